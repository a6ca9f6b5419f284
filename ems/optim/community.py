"""Several buildings behind one shared connection point, scheduled as one MILP.

Each building keeps its own model (every part through its kind, its own house
connection as the limit of its exchange with the community, kW): its grid
columns become its import from / export to the community bus. The bus
balances at every step::

    sum_b (import_b - export_b) = community import - community export

and only the community's import and export meet the grid, within the shared
connection's limits and at the one tariff every building shares (EUR/kWh):
energy passed between buildings inside a step costs the community nothing.
The objective is the community's energy cost plus every building's
degradation and preference penalty. The buildings' blocks are stacked as
they are built (:func:`ems.optim.milp.build_model` with every direction binary)
and the stacked problem goes to the same solver back-ends; each building's
schedule is then extracted by its own kinds and checked by the validator,
and the bus and the connection are checked here. How the community's bill is
split between the buildings is a settlement question (``ems.experiment.community``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from ems.optim.backends import session
from ems.optim.kinds.grid import Grid
from ems.optim.milp import INF, Matrix, Model, build_model
from ems.optim.optimize import extract, optimize_day
from ems.optim.request import DayRequest, RequestError
from ems.optim.result import DayResult, energy_cost_eur
from ems.optim.solver import SolverSpec
from ems.optim.validate import TOL, validate


@dataclass
class CommunityResult:
    """The joint schedule: each building's (its import/export = its exchange with the bus, priced at the
    tariff as if alone) and the community's grid import/export (kW per step) and energy cost (EUR)."""

    status: str
    buildings: dict[str, DayResult] = field(default_factory=dict)
    import_kw: list[float] = field(default_factory=list)
    export_kw: list[float] = field(default_factory=list)
    energy_cost_eur: float | None = None
    objective_eur: float | None = None
    diagnosis: list[str] = field(default_factory=list)
    solve_seconds: float = 0.0
    build_seconds: float = 0.0
    n_variables: int = 0
    n_binaries: int = 0

    @property
    def ok(self) -> bool:
        return self.status in ("optimal", "feasible")


def _check(requests: dict[str, DayRequest]) -> DayRequest:
    if not requests:
        raise RequestError("community: needs at least one building")
    first = next(iter(requests.values()))
    for name, r in requests.items():
        if r.n_steps != first.n_steps or r.step_hours != first.step_hours:
            raise RequestError(f"community: {name} has {r.n_steps} steps of {r.step_hours:g} h, the first building "
                               f"{first.n_steps} of {first.step_hours:g} h; the buildings must share one horizon")
        if r.import_price_eur_kwh != first.import_price_eur_kwh or r.export_price_eur_kwh != first.export_price_eur_kwh:
            raise RequestError(f"community: {name}'s prices differ from the first building's; the community buys "
                               f"and sells at one tariff")
        if r.demand_charge is not None:
            raise RequestError(f"community: {name} has a demand charge; a community's is not modelled")
    return first


def _sparse(mat: Matrix) -> sparse.csc_matrix:
    return sparse.csc_matrix((mat.value, mat.index, mat.start), shape=(mat.n_rows, mat.n_cols))


def joint_matrix(models: list[Model], mats: list[Matrix], connection: Grid, first: DayRequest
                 ) -> tuple[Matrix, list[tuple[int, int]], np.ndarray, np.ndarray]:
    """The buildings' matrices (``mats``, of ``models``) side by side (block-diagonal, each without its energy cost: the community
    pays for energy at its connection), then per step the community's import, export and direction binary,
    the bus balance and the connection's limits. Returns the matrix, (first column, column count) of each
    building's block and the columns of the community import and export."""
    n, dt = first.n_steps, first.step_hours
    counts = [mat.n_cols for mat in mats]
    offsets = np.cumsum([0, *counts])[:-1]
    blocks = sparse.block_diag([_sparse(mat) for mat in mats], format="csc")
    bus = sparse.lil_matrix((n, blocks.shape[1]))  # sum_b (import_b - export_b)
    for m, offset in zip(models, offsets):
        v = m.vars["grid"]
        bus[np.arange(n), offset + np.asarray(v["import"])] = 1.0
        bus[np.arange(n), offset + np.asarray(v["export"])] = -1.0
    eye, zero = sparse.identity(n, format="csc"), sparse.csc_matrix((n, n))
    # rows: bus - in + out = 0;  in - max_in d <= 0;  out + max_out d <= max_out
    coupling = sparse.bmat([[bus.tocsc(), -eye, eye, zero],
                            [None, eye, None, -connection.max_import_kw * eye],
                            [None, None, eye, connection.max_export_kw * eye]], format="csc")
    a = sparse.vstack([sparse.hstack([blocks, sparse.csc_matrix((blocks.shape[0], 3 * n))]), coupling],
                      format="csc")
    a.sort_indices()
    buy, sell = np.asarray(first.import_price_eur_kwh, float), np.asarray(first.export_price_eur_kwh, float)
    zeros, ones = np.zeros(n), np.ones(n)
    cat = lambda key, *more: np.concatenate([getattr(mat, key) for mat in mats] + list(more))  # noqa: E731
    own = np.concatenate([mat.cost - m.term_vector("energy") for m, mat in zip(models, mats)])
    mat = Matrix(cost=np.concatenate([own, dt * buy, -dt * sell, zeros]),
                 col_lower=cat("col_lower", zeros, zeros, zeros),
                 col_upper=cat("col_upper", connection.max_import_kw * ones, connection.max_export_kw * ones, ones),
                 row_lower=cat("row_lower", zeros, -INF * ones, -INF * ones),
                 row_upper=cat("row_upper", zeros, zeros, connection.max_export_kw * ones),
                 start=a.indptr.astype(np.int32), index=a.indices.astype(np.int32), value=a.data.astype(float),
                 integer=cat("integer", np.zeros(2 * n, bool), np.ones(n, bool)))
    c0 = blocks.shape[1]
    return mat, list(zip(offsets.tolist(), counts)), np.arange(c0, c0 + n), np.arange(c0 + n, c0 + 2 * n)


def optimize_community(requests: dict[str, DayRequest], connection: Grid,
                       settings: SolverSpec | None = None) -> CommunityResult:
    """The community's optimal joint schedule (each building's checked by the validator), or a diagnosis."""
    first = _check(requests)
    settings = settings or first.solver
    started = time.perf_counter()
    models = [build_model(r, full=True) for r in requests.values()]
    mats = [m.matrix() for m in models]
    mat, spans, g_in, g_out = joint_matrix(models, mats, connection, first)
    built = time.perf_counter() - started
    solution = session(mat, settings, started + settings.time_limit_s).mip()
    result = CommunityResult(status=solution.status, build_seconds=built, solve_seconds=solution.seconds,
                             n_variables=mat.n_cols, n_binaries=int(mat.integer.sum()))
    if solution.status == "infeasible":
        result.diagnosis = _diagnose(requests, connection, settings)
        return result
    if solution.x is None:
        result.diagnosis = [f"solver {settings.name}: {solution.detail}"]
        return result
    x = solution.x
    for (name, r), m, part, (offset, count) in zip(requests.items(), models, mats, spans):
        building = extract(m, part, x[offset:offset + count], solution.status, settings.name)
        validate(r, building)
        result.buildings[name] = building
    result.import_kw, result.export_kw = np.maximum(x[g_in], 0.0).tolist(), np.maximum(x[g_out], 0.0).tolist()
    result.energy_cost_eur = energy_cost_eur(np.asarray(result.import_kw), np.asarray(result.export_kw),
                                             first.import_price_eur_kwh, first.export_price_eur_kwh, first.step_hours)
    result.objective_eur = result.energy_cost_eur + sum((b.degradation_eur or 0.0) + (b.penalty_eur or 0.0)
                                                        for b in result.buildings.values())
    problems = community_violations(requests, connection, result)
    if problems:
        raise RuntimeError("community schedule violates: " + "; ".join(problems))
    return result


def community_violations(requests: dict[str, DayRequest], connection: Grid, result: CommunityResult) -> list[str]:
    """What the joint schedule breaks at the bus and the shared connection (each building's own
    schedule is checked by ``ems.optim.validate``)."""
    first = next(iter(requests.values()))
    imp, exp = np.asarray(result.import_kw, float), np.asarray(result.export_kw, float)
    found = []
    net = sum((np.asarray(b.import_kw) - np.asarray(b.export_kw) for b in result.buildings.values()),
              np.zeros(first.n_steps))
    gap = net - (imp - exp)
    bad = np.flatnonzero(np.abs(gap) > TOL)
    if len(bad):
        found.append(f"community bus: the buildings' net exchange and the connection differ by {gap[bad[0]]:.6f} kW "
                     f"at step {bad[0]}")
    if (imp > connection.max_import_kw + TOL).any() or (exp > connection.max_export_kw + TOL).any() \
            or (imp < -TOL).any() or (exp < -TOL).any():
        found.append("community connection: import or export outside [0, max_import_kw / max_export_kw]")
    if (np.minimum(imp, exp) > TOL).any():
        found.append("community connection: import and export in the same step")
    cost = energy_cost_eur(imp, exp, first.import_price_eur_kwh, first.export_price_eur_kwh, first.step_hours)
    if result.energy_cost_eur is None or abs(cost - result.energy_cost_eur) > TOL * max(1, first.n_steps):
        found.append(f"community energy_cost_eur: reported {result.energy_cost_eur}, recomputed {cost:.6f}")
    return found


def _diagnose(requests: dict[str, DayRequest], connection: Grid, settings: SolverSpec) -> list[str]:
    """Why the joint problem has no solution: a building infeasible alone, else the shared connection."""
    found = []
    for name, r in requests.items():
        alone = optimize_day(r, settings)
        if not alone.ok:
            found += [f"{name}: {line}" for line in alone.diagnosis]
    if found:
        return found
    base = sum((np.asarray(r.base_load_kw) - np.asarray(r.pv_kw) for r in requests.values()),
               np.zeros(next(iter(requests.values())).n_steps))
    t = int(np.argmax(base))
    return [f"community connection: max_import_kw={connection.max_import_kw:g} / max_export_kw="
            f"{connection.max_export_kw:g} cannot carry the buildings' needs (each is feasible alone; at step {t} "
            f"their base load net of PV alone is {base[t]:.3g} kW)"]
