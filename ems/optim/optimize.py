"""One call: a day request in, a checked schedule (or a diagnosis) out."""

from __future__ import annotations

import time

import numpy as np
import pulp

from ems.optim.diagnose import find_culprit, precheck
from ems.optim.milp import Model, build_model
from ems.optim.request import DayRequest, DiscretePhaseDevice
from ems.optim.result import DayResult, DeviceSchedule, StorageSchedule, energy_cost_eur
from ems.optim.solver import SolverSettings
from ems.optim.validate import validate


def settings_for(request: DayRequest) -> SolverSettings:
    """Solver settings named in the request."""
    s = request.solver
    return SolverSettings(name=s.name, mip_rel_gap=s.mip_rel_gap, time_limit_s=s.time_limit_s)


def optimize_day(request: DayRequest, settings: SolverSettings | None = None) -> DayResult:
    """Schedule ``request`` optimally; the returned schedule has passed the validator.

    Status ``optimal`` (proven, gap 0), ``feasible`` (within mip_rel_gap or
    stopped by the time limit), or ``infeasible`` with a diagnosis naming the
    device and the constraint.
    """
    settings = settings or settings_for(request)
    problems = precheck(request)
    if problems:
        return DayResult(status="infeasible", diagnosis=problems, solver=settings.name)
    started = time.perf_counter()
    model = build_model(request)
    built = time.perf_counter()
    model.prob.solve(settings.pulp_solver())
    solved = time.perf_counter()
    status = _status(model.prob, settings)
    if status == "infeasible":
        diagnosis = find_culprit(request, lambda r: _feasible(r, settings))
        return DayResult(status="infeasible", diagnosis=diagnosis, solver=settings.name)
    if status == "error":
        return DayResult(status="error", solver=settings.name,
                         diagnosis=[f"solver {settings.name}: {pulp.LpStatus[model.prob.status]} (no solution found "
                                    f"within time_limit_s={settings.time_limit_s:g})"])
    result = extract(model, status, settings.name)
    result.build_seconds, result.solve_seconds = built - started, solved - built
    validate(request, result)
    return result


def _status(prob: pulp.LpProblem, settings: SolverSettings) -> str:
    if prob.status == pulp.LpStatusInfeasible or prob.sol_status == pulp.LpSolutionInfeasible:
        return "infeasible"
    if prob.sol_status == pulp.LpSolutionOptimal and prob.status == pulp.LpStatusOptimal:
        return "optimal" if settings.mip_rel_gap == 0 else "feasible"
    if prob.sol_status == pulp.LpSolutionIntegerFeasible:
        return "feasible"
    return "error"


def _feasible(request: DayRequest, settings: SolverSettings) -> bool:
    if precheck(request):
        return False
    model = build_model(request)
    model.prob.solve(settings.pulp_solver())
    return _status(model.prob, settings) in ("optimal", "feasible")


def _values(variables, n: int, default: float = 0.0) -> np.ndarray:
    """Per-step values of a {step: var} dict or list (clipped at 0 against solver noise)."""
    out = np.full(n, default)
    items = variables.items() if isinstance(variables, dict) else enumerate(variables)
    for t, v in items:
        out[t] = v.varValue or 0.0
    return np.maximum(out, 0.0)


def extract(m: Model, status: str, solver: str) -> DayResult:
    """Read the schedule out of a solved model and price it."""
    r, n, dt = m.request, m.n, m.dt
    grid = m.vars["grid"]
    imp, exp, curt = _values(grid["import"], n), _values(grid["export"], n), _values(grid["curtail"], n)
    devices = {}
    for d in r.devices:
        v = m.vars[d.name]
        if isinstance(d, DiscretePhaseDevice):
            starts = sorted(k for k, s in v["starts"].items() if (s.varValue or 0) > 0.5)
            power = np.zeros(n)
            for k in starts:
                power[k:k + len(d.phases_kw)] += d.phases_kw
            devices[d.name] = DeviceSchedule(power.tolist(), starts)
        else:
            devices[d.name] = DeviceSchedule(_values(v["power"], n).tolist())
    result = DayResult(status=status, import_kw=imp.tolist(), export_kw=exp.tolist(), pv_curtailed_kw=curt.tolist(),
                       devices=devices, solver=solver, n_variables=m.prob.numVariables(),
                       n_constraints=m.prob.numConstraints())
    degradation = 0.0
    if r.battery is not None:
        result.battery = _storage(m.vars["battery"], n, r.battery.soc_init_kwh)
        throughput = np.sum(result.battery.charge_kw) + np.sum(result.battery.discharge_kw)
        degradation = float(r.battery.degradation_eur_kwh * dt * throughput)
    if r.ev is not None:
        result.ev = _storage(m.vars["ev"], n, r.ev.soc_init_kwh, with_discharge=r.ev.v2g)
    result.energy_cost_eur = energy_cost_eur(imp, exp, r.import_price_eur_kwh, r.export_price_eur_kwh, dt)
    result.degradation_eur = degradation
    result.penalty_eur = float(sum(c * (v.varValue or 0.0) for v, c in m.penalty))
    result.objective_eur = result.energy_cost_eur + degradation + result.penalty_eur
    return result


def _storage(v: dict, n: int, soc_init: float, with_discharge: bool = True) -> StorageSchedule:
    soc = [soc_init] + [s.varValue or 0.0 for s in v["soc"][1:]]
    discharge = _values(v["discharge"], n).tolist() if with_discharge else None
    return StorageSchedule(charge_kw=_values(v["charge"], n).tolist(), soc_kwh=soc, discharge_kw=discharge)
