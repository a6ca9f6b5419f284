"""One call: a day request in, a checked schedule (or a diagnosis) out."""

from __future__ import annotations

import time

import numpy as np
import pulp

from ems.optim.diagnose import find_culprit, precheck
from ems.optim.kinds import STORAGE_KINDS, grid
from ems.optim.milp import Model, build_model, parts
from ems.optim.request import DayRequest
from ems.optim.result import DayResult, energy_cost_eur
from ems.optim.solver import SolverSpec
from ems.optim.validate import validate


def optimize_day(request: DayRequest, settings: SolverSpec | None = None) -> DayResult:
    """Schedule ``request`` optimally; the returned schedule has passed the validator.

    Status ``optimal`` (proven, gap 0), ``feasible`` (within mip_rel_gap or
    stopped by the time limit), or ``infeasible`` with a diagnosis naming the
    device and the constraint. ``settings`` default to the request's ``solver``.
    """
    settings = settings or request.solver
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


def _status(prob: pulp.LpProblem, settings: SolverSpec) -> str:
    if prob.status == pulp.LpStatusInfeasible or prob.sol_status == pulp.LpSolutionInfeasible:
        return "infeasible"
    if prob.sol_status == pulp.LpSolutionOptimal and prob.status == pulp.LpStatusOptimal:
        return "optimal" if settings.mip_rel_gap == 0 else "feasible"
    if prob.sol_status == pulp.LpSolutionIntegerFeasible:
        return "feasible"
    return "error"


def _feasible(request: DayRequest, settings: SolverSpec) -> bool:
    if precheck(request):
        return False
    model = build_model(request)
    model.prob.solve(settings.pulp_solver())
    return _status(model.prob, settings) in ("optimal", "feasible")


def extract(m: Model, status: str, solver: str) -> DayResult:
    """Read the schedule out of a solved model (each part through its kind) and price it."""
    r = m.request
    result = DayResult(status=status, solver=solver, n_variables=m.prob.numVariables(),
                       n_constraints=m.prob.numConstraints())
    grid.extract(m, result)
    for kind, spec in parts(r):
        kind.extract(m, spec, result)
    price(r, result)
    result.penalty_eur = float(sum(c * (v.varValue or 0.0) for v, c in m.penalty))
    result.objective_eur = result.energy_cost_eur + result.degradation_eur + result.penalty_eur
    return result


def price(r: DayRequest, result: DayResult) -> None:
    """Energy cost (import cost - export revenue) and storage degradation of ``result``, EUR."""
    result.energy_cost_eur = energy_cost_eur(np.asarray(result.import_kw), np.asarray(result.export_kw),
                                             r.import_price_eur_kwh, r.export_price_eur_kwh, r.step_hours)
    result.degradation_eur = float(sum(STORAGE_KINDS[key].degradation_eur(r, spec, getattr(result, key))
                                       for key, spec in r.storages()))
