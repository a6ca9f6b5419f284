"""The perfect-foresight bound of a run: what was physically possible over its days, and the regret.

The bound problem is every scheduled day's request with the actual base load
and PV (perfect foresight), joined into one horizon over the whole period:
each job keeps its own day's window, the battery's SOC runs through the whole
period (it starts at the configured SOC and must end at the configured final
SOC; no daily final SOC), EV sessions keep their days. Everything a mode's
settled schedule must respect is kept or relaxed, so its cost is a valid
lower bound on every mode's energy cost over the same days:

* the appliances' start and on/off binaries are relaxed, the direction
  binaries (no import and export, no charge and discharge at once, where doing
  both could pay) stay integral: the method is reported as
  ``direction_milp`` (an LP relaxation would let import and export flow at
  once in negative-price hours, a far looser bound);
* the objective is the energy cost only (no degradation, no preference
  penalty, no PMF restriction of the allowed hours);
* the grid limits are the configured ones or, where larger, what any settled
  plan could reach (a plan made on a wrong forecast may exceed the limits when
  it is settled at the actual values): import up to the largest base load plus
  every appliance's, the battery's and the EV's peak, export up to the largest
  PV plus the storages' discharge power;
* the EV charger takes the largest of the days' charger limits; an overnight
  session is one session across midnight, as in the replay;
* the battery must end at the configured final SOC, or at the run's own end
  SOC where that is lower (a receding plan may end the period below the
  daily target, having planned past its last day).

Regret = a run's energy cost - the bound; it is split into the forecast's
part (the run's cost - the same run with perfect foresight) and the horizon's
part (the perfect-foresight run - the bound: planning one day at a time,
with daily battery targets, and the hours the modes' rules exclude).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import timedelta

import numpy as np

from ems.data.days import DayData
from ems.experiment.problem import pose
from ems.experiment.protocols import Experiment
from ems.optim.backends import session
from ems.optim.kinds import device_kind
from ems.optim.kinds.base import MAX_QUANTITY
from ems.optim.kinds.grid import Grid
from ems.optim.milp import build_model
from ems.optim.optimize import direction_columns
from ems.optim.request import BatterySpec, DayRequest, EVSpec
from ems.optim.solver import SolverSpec

#: How the bound was computed (reported with it).
METHOD = "direction_milp"
#: Seconds the whole-period problem may take (a whole record solves in seconds).
BOUND_TIME_LIMIT_S = 600.0


@dataclass
class Bound:
    """The bound's cost (EUR) over ``days`` days, how it was computed and how long it took (s)."""

    cost_eur: float
    days: int
    method: str = METHOD
    seconds: float = 0.0
    n_variables: int = 0


def period_request(days: list[DayData], exp: Experiment, max_kw: dict[str, float],
                   final_soc_kwh: dict[str, float] | None = None, replayed: list[DayData] | None = None
                   ) -> DayRequest | None:
    """The whole-period request of ``days`` (see the module docstring); None without a day to pose.
    ``final_soc_kwh``: each battery's SOC at the run's end (by name), which the bound must also reach
    (default: the configured final SOC). ``replayed``: the days the replay saw (default ``days``): an overnight
    EV session shared with a replayed day that is not among ``days`` is cut where the replay cut it."""
    coordinator = exp.optimizer()
    wanted = {d.day for d in days}
    valid = {}
    # The replayed days beyond ``days`` matter only for the EV sessions they share: without an EV they are not posed.
    for day in (replayed or days) if exp.evs else days:
        problem = pose(day, exp.building, exp.replay, max_kw, exp.evs, exp.heating)
        if not isinstance(problem, str):
            valid[day.day] = problem
    parts, sessions = [], []
    for day in days:
        problem = valid.get(day.day)
        if problem is None:
            continue
        request = coordinator.request(problem.needs, exp.tariff.import_price(day.hours),
                                      exp.tariff.export_price(day.hours), with_battery=False)
        parts.append(request.model_copy(update={"evs": []}))
        sessions.append(_ev_parts(exp, problem, valid, wanted))
    if not parts:
        return None
    specs = []
    for battery in exp.batteries:
        spec = battery.spec(battery.kwh(battery.soc_init_frac))
        if final_soc_kwh is not None and battery.name in final_soc_kwh:
            spec = spec.model_copy(update={"soc_final_min_kwh": max(spec.soc_min_kwh, min(
                final_soc_kwh[battery.name], spec.soc_final_min_kwh))})
        specs.append(spec)
    return join_requests(parts, specs, exp.building.grid, exp.solver.name, sessions)


def _ev_parts(exp: Experiment, problem, valid: dict, wanted: set) -> list[EVSpec]:
    """Each EV's sessions of ``problem``'s day in the whole-period request: an overnight session runs
    into the next day when that day is in the bound too (and is left out of it there), and is cut
    at midnight as in the replay when the next day was replayed but is not in the bound."""
    day, out = problem.day.day, []
    for ev in exp.evs:
        after = before = None
        if (nxt := valid.get(day + timedelta(days=1))) is not None:
            after = ev.link(problem.needs, nxt.needs)
        if (prev := valid.get(day - timedelta(days=1))) is not None:
            before = ev.link(prev.needs, problem.needs)
        joined = after is not None and day + timedelta(days=1) in wanted
        steps = problem.day.n_steps + (after.steps if joined else 0)
        spec = ev.spec(problem.needs, steps=steps, after=after, before=before,
                       continuation=not (before is not None and day - timedelta(days=1) in wanted))
        if spec is not None:
            out.append(spec)
    return out


def join_requests(parts: list[DayRequest], batteries: list[BatterySpec], grid: Grid, solver: str = "highs",
                  ev_parts: list[list[EVSpec]] | None = None) -> DayRequest:
    """Day requests (1-hour steps, in time order) joined into one horizon: jobs in their own day's
    window without PMFs or penalty, each EV's sessions on their days (one EV per name), the
    ``batteries`` (their initial and final SOC) across the whole period without wear cost, the grid
    limits raised to what a settled plan could reach (see the module docstring). ``ev_parts``: each
    day's EVs instead of its request's (their sessions may run past the day's end, into the next)."""
    devices, offset = [], 0
    sessions: dict[str, list] = {}
    chargers: dict[str, float] = {}
    templates: dict[str, EVSpec] = {}
    evs = ev_parts if ev_parts is not None else [r.evs for r in parts]
    total = sum(r.n_steps for r in parts)
    for i, (r, day_evs) in enumerate(zip(parts, evs)):
        for d in r.devices:
            placed = device_kind(d.flex_model).placed(d.model_copy(update={"pmf": None}), offset, total)
            devices.append(placed.model_copy(update={"name": f"{d.name}@{i}", "preference_weight": 0.0}))
        for r_ev in day_evs:
            templates.setdefault(r_ev.name, r_ev)
            chargers[r_ev.name] = max(chargers.get(r_ev.name, 0.0), r_ev.max_charge_kw)
            sessions.setdefault(r_ev.name, []).extend(
                s.model_copy(update={"arrival_step": s.arrival_step + offset,
                                     "deadline_step": s.deadline_step + offset}) for s in r_ev.sessions)
        offset += r.n_steps
    joined_evs = [EVSpec(**{**template.model_dump(), "max_charge_kw": chargers[name],
                            "max_discharge_kw": chargers[name] if template.v2g else 0.0,
                            "sessions": [s.model_dump() for s in sessions[name]]})
                  for name, template in templates.items() if sessions[name]]
    specs = [b.model_copy(update={"degradation_eur_kwh": 0.0}) for b in batteries]
    join = lambda key: np.concatenate([getattr(r, key) for r in parts]).tolist()  # noqa: E731
    storages = [*specs, *joined_evs]
    reach_in = max(join("base_load_kw")) + max(sum(device_kind(d.flex_model).peak_kw(d) for d in r.devices)
                                               for r in parts) + sum(s.max_charge_kw for s in storages)
    reach_out = max(join("pv_kw")) + sum(s.max_out_kw for s in storages)
    limits = Grid(max_import_kw=min(MAX_QUANTITY, max(grid.max_import_kw, reach_in)),
                  max_export_kw=min(MAX_QUANTITY, max(grid.max_export_kw, reach_out)))
    return DayRequest(
        step_hours=1.0, import_price_eur_kwh=join("import_price_eur_kwh"),
        export_price_eur_kwh=join("export_price_eur_kwh"), pv_kw=join("pv_kw"), base_load_kw=join("base_load_kw"),
        grid=limits, devices=devices, batteries=specs, evs=joined_evs, theta=0.0, solver=SolverSpec(name=solver),
        pv_curtailable=parts[0].pv_curtailable)


def solve_bound(request: DayRequest) -> tuple[float, int]:
    """(the energy-cost bound in EUR, the number of columns): ``request`` with its appliance binaries
    relaxed and its direction binaries integral, solved to a proven optimum."""
    model = build_model(request, full=False)
    mat = model.matrix()
    mat = replace(mat, integer=mat.integer & direction_columns(model, mat))  # appliance binaries relaxed
    settings = SolverSpec(name=request.solver.name, time_limit_s=BOUND_TIME_LIMIT_S, mip_rel_gap=0.0)
    solved = session(mat, settings).mip()
    if solved.status != "optimal":
        raise RuntimeError(f"bound: the whole-period problem ended {solved.status} ({solved.detail}); "
                           f"it cannot bound the run")
    return float(solved.objective), mat.n_cols


def period_bound(days: list[DayData], exp: Experiment, max_kw: dict[str, float],
                 final_soc_kwh: dict[str, float] | None = None, replayed: list[DayData] | None = None) -> Bound | None:
    """The bound of the energy cost over ``days`` (EUR; see the module docstring and
    :func:`period_request`); None without a day to pose."""
    started = time.perf_counter()
    request = period_request(days, exp, max_kw, final_soc_kwh, replayed)
    if request is None:
        return None
    cost, columns = solve_bound(request)
    return Bound(cost, len(days), METHOD, time.perf_counter() - started, columns)
