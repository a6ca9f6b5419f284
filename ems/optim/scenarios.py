"""Two-stage scenario planning: appliance starts shared by every scenario, battery/EV/grid per scenario.

A :class:`Scenario` is one possible base load and PV of the horizon (kW per
step) with its probability. The first stage is every device of the request
(its columns are defined once: the starts and on/off decisions a household
commits to); the second stage (recourse) is the grid, the battery and the EV,
defined once per scenario, each scenario with its own balance
``import - export + pv_s - curtailed = base_s + devices + storages``. The
objective is the first stage's preference penalty plus

    (1 - cvar_weight) * sum_s p_s * cost_s + cvar_weight * CVaR_alpha(cost)

with cost_s the scenario's energy cost and wear (EUR) and CVaR by the
Rockafellar-Uryasev rows ``u_s >= cost_s - eta``, ``u_s >= 0``,
``CVaR = eta + sum_s p_s u_s / (1 - alpha)``.

What is committed (:func:`optimize_scenarios`): the first stage's device
schedule, and the battery, EV and grid of a deterministic plan on the point
forecast with those devices fixed (the recourse a house applies once it has
started its appliances). The result passed the validator against the point
forecast's request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ems.optim.backends import session
from ems.optim.kinds import device_kind, grid
from ems.optim.milp import INF, Model, define_balance
from ems.optim.optimize import optimize_day, price
from ems.optim.request import DayRequest
from ems.optim.result import DayResult
from ems.optim.solver import SolverSpec
from ems.optim.validate import validate


@dataclass
class Scenario:
    """Base load and PV (kW per step of the horizon) and the scenario's probability."""

    base_kw: np.ndarray
    pv_kw: np.ndarray
    probability: float


@dataclass
class ScenarioModel:
    """The two-stage model: ``model`` (its first stage in ``model.devices``) and each scenario's
    recourse columns (``recourse[s]``: ``grid``, ``battery``, ``ev`` as a deterministic model has)."""

    model: Model
    recourse: list[dict]
    cost_rows: list[tuple[np.ndarray, np.ndarray]]


def _check(request: DayRequest, scenarios: list[Scenario], cvar_weight: float, cvar_alpha: float) -> None:
    if not scenarios:
        raise ValueError("scenarios: at least one scenario is needed")
    total = sum(s.probability for s in scenarios)
    if any(s.probability < 0 for s in scenarios) or abs(total - 1.0) > 1e-6:
        raise ValueError(f"scenarios: probabilities must be >= 0 and sum to 1 (they sum to {total:g})")
    for i, s in enumerate(scenarios):
        if len(s.base_kw) != request.n_steps or len(s.pv_kw) != request.n_steps:
            raise ValueError(f"scenarios[{i}]: {len(s.base_kw)} base and {len(s.pv_kw)} PV steps, the request has "
                             f"{request.n_steps}")
    if not 0 <= cvar_weight <= 1 or not 0 <= cvar_alpha < 1:
        raise ValueError(f"cvar_weight={cvar_weight} must be in [0, 1] and cvar_alpha={cvar_alpha} in [0, 1)")


def build_scenario_model(request: DayRequest, scenarios: list[Scenario], cvar_weight: float = 0.0,
                         cvar_alpha: float = 0.9) -> ScenarioModel:
    """The two-stage MILP of ``request`` over ``scenarios`` (see the module docstring)."""
    _check(request, scenarios, cvar_weight, cvar_alpha)
    m = Model(request)
    for device in request.devices:  # first stage, once
        device_kind(device.flex_model).define(m, device)
    first_load = list(m._load)
    recourse, cost_rows = [], []
    for s in scenarios:
        m.request = request.model_copy(update={"base_load_kw": np.maximum(s.base_kw, 0.0).tolist(),
                                               "pv_kw": np.maximum(s.pv_kw, 0.0).tolist()})
        m.vars, m._load = {}, list(first_load)
        marks = {term: len(m.costs[term]) for term in ("energy", "degradation", "demand")}  # each scenario's
        grid.define(m)
        for kind, spec in m.request.storages():
            kind.define(m, spec)
        define_balance(m)
        cols, coefs = [], []
        for term, mark in marks.items():
            added = m.costs[term][mark:]
            m.costs[term][mark:] = [(c, v * (1.0 - cvar_weight) * s.probability) for c, v in added]
            cols += [c for c, _ in added]
            coefs += [v for _, v in added]
        cost_rows.append((np.concatenate(cols), np.concatenate(coefs)))
        recourse.append(m.vars)
    m.request, m._load = request, []
    if cvar_weight > 0:
        eta = m.columns(1, -INF, INF)
        u = m.columns(len(scenarios), 0.0, INF)
        m.cost("energy", eta, cvar_weight)
        m.cost("energy", u, [cvar_weight * s.probability / (1.0 - cvar_alpha) for s in scenarios])
        for k, (cols, coefs) in enumerate(cost_rows):
            row = m.rows(1, -INF, 0.0)[0]
            m.coefs(row, cols, coefs)
            m.coefs(row, eta, -1.0)
            m.coefs(row, u[k], -1.0)
    m.vars = recourse[0]
    return ScenarioModel(m, recourse, cost_rows)


def optimize_scenarios(request: DayRequest, scenarios: list[Scenario], settings: SolverSpec | None = None,
                       cvar_weight: float = 0.0, cvar_alpha: float = 0.9) -> DayResult:
    """The devices placed against every scenario at once, the storages re-planned on ``request``'s
    own (point) forecast with them fixed; a validated schedule or the deterministic plan's
    diagnosis. With one scenario equal to the point forecast this is the deterministic optimum."""
    settings = settings or request.solver
    started = time.perf_counter()
    if not request.devices:  # nothing is decided before the scenarios unfold
        return optimize_day(request, settings)
    built = build_scenario_model(request, scenarios, cvar_weight, cvar_alpha)
    mat = built.model.matrix()
    build_s = time.perf_counter() - started
    solved = session(mat, settings, started + settings.time_limit_s).mip()
    if solved.x is None:  # infeasible or out of time: the deterministic call says which device and why
        plan = optimize_day(request, settings)
        plan.solve_seconds += solved.seconds
        return plan
    first = DayResult(status=solved.status, solver=settings.name)
    for device in request.devices:
        device_kind(device.flex_model).extract(built.model, solved.x, device, first)
    fixed = sum((np.asarray(s.power_kw) for s in first.devices.values()), np.zeros(request.n_steps))
    rest = optimize_day(request.model_copy(update={
        "devices": [], "base_load_kw": (np.asarray(request.base_load_kw) + fixed).tolist()}), settings)
    if not rest.ok:
        return rest
    rest.devices = first.devices
    price(request, rest)
    rest.penalty_eur = float(built.model.term_vector("penalty") @ solved.x) if built.model.costs["penalty"] else 0.0
    rest.add_up()
    rest.build_seconds += build_s
    rest.solve_seconds += solved.seconds
    rest.n_variables, rest.n_constraints = mat.n_cols, mat.n_rows
    rest.status = "optimal" if solved.status == "optimal" and rest.status == "optimal" else "feasible"
    rest.warnings = request.warnings
    validate(request, rest)
    return rest


def expected_cost_eur(built: ScenarioModel, x: np.ndarray) -> list[float]:
    """Each scenario's energy cost and wear (EUR) at the solution ``x``."""
    return [float(coefs @ x[cols]) for cols, coefs in built.cost_rows]
