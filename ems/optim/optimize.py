"""One call: a day request in, a checked schedule (or a diagnosis) out.

The exact optimum is reached by the cheapest proof available (``DayResult.path``):

``lp``
    The LP relaxation's optimum is integral (every start and on/off binary is 0
    or 1) and no charge/discharge or import/export pair flows at once: it is
    feasible for the MILP and no MILP point can be cheaper, so it is the optimum.
``lp_branch``
    A small best-first branch and bound on the LP relaxation (warm re-solves,
    at most ``solver.max_lp_nodes`` LPs, by default 64 with HiGHS, none with CBC): branch on the most fractional start or
    on/off binary (each kind's columns) or on a direction binary whose pair
    flows both ways; the first MILP-feasible node taken off the queue has the
    lowest bound of all open nodes, so it is the optimum.
``milp``
    The MILP with direction binaries only where they can matter
    (:func:`ems.optim.kinds.storage.needs_direction`), accepted when its solution
    shows no simultaneous flows where a binary was left out (it is then feasible
    for the full MILP, whose relaxation it is).
``milp_full``
    The MILP with every direction binary: used when the lighter one's solution
    shows simultaneous flows, or when ``solver.fast_path`` is false.
"""

from __future__ import annotations

import heapq
import time

import numpy as np

from ems.optim.backends import TIME_LIMIT, Solution, session
from ems.optim.diagnose import find_culprit, precheck
from ems.optim.kinds import grid
from ems.optim.milp import Matrix, Model, build_model, parts
from ems.optim.request import DayRequest
from ems.optim.result import DayResult, energy_cost_eur
from ems.optim.solver import SolverSpec
from ems.optim.validate import validate

INTEGRAL_TOL = 1e-9  # an LP value this close to 0 or 1 counts as integral
SIMULTANEOUS_TOL = 1e-7  # kW: two flows both above this in one step are simultaneous


def optimize_day(request: DayRequest, settings: SolverSpec | None = None) -> DayResult:
    """Schedule ``request`` optimally; the returned schedule has passed the validator.

    Status ``optimal`` (proven, gap 0), ``feasible`` (within mip_rel_gap or
    stopped by the time limit), ``infeasible`` with a diagnosis naming the
    device and the constraint, or ``error`` (the solver found nothing in time).
    ``settings`` default to the request's ``solver``; its ``time_limit_s`` is
    the budget of the whole call: building the model, every solve and the
    culprit search of an infeasible day.
    """
    settings = settings or request.solver
    started = time.perf_counter()
    deadline = started + settings.time_limit_s
    problems = precheck(request)
    if problems:
        return _done(request, DayResult(status="infeasible", diagnosis=problems, solver=settings.name))
    model = build_model(request, full=not settings.fast_path)
    mat = model.matrix()
    built = time.perf_counter() - started
    model, mat, solution, path, solve_seconds, extra_build = solve_exact(model, mat, settings, deadline)
    if solution.status == "infeasible":
        diagnosis = find_culprit(request, lambda r: _feasible(r, settings, deadline))
        if time.perf_counter() > deadline:
            diagnosis.append(f"(the search for the culprit stopped at time_limit_s={settings.time_limit_s:g})")
        return _done(request, DayResult(status="infeasible", diagnosis=diagnosis, solver=settings.name))
    if solution.status == "error":
        return _done(request, DayResult(status="error", solver=settings.name, diagnosis=[
            f"solver {settings.name}: {solution.detail}" if solution.detail.startswith(TIME_LIMIT) else
            f"solver {settings.name}: {solution.detail} (no solution found within time_limit_s="
            f"{settings.time_limit_s:g}, which covers building the model and every solve)"]))
    result = extract(model, mat, solution.x, solution.status, settings.name)
    result.path = path
    result.build_seconds, result.solve_seconds = built + extra_build, solve_seconds
    validate(request, result)
    return _done(request, result)


def _done(request: DayRequest, result: DayResult) -> DayResult:
    result.warnings = request.warnings
    return result


def solve_exact(model: Model, mat: Matrix, settings: SolverSpec, deadline: float | None = None
                ) -> tuple[Model, Matrix, Solution, str, float, float]:
    """(model, matrix, solution, path, solve seconds, extra build seconds) along the paths above,
    every solve ending by ``deadline`` (a ``time.perf_counter()`` instant)."""
    spent = 0.0
    if settings.fast_path:
        s = session(mat, settings, deadline)
        lp = s.relaxation()
        spent += lp.seconds
        if lp.status == "infeasible" or (lp.status == "optimal" and lp_is_exact(model, mat, lp.x)):
            return model, mat, lp, "lp", spent, 0.0
        if lp.status == "optimal":
            best, seconds = branch_and_bound(model, mat, s, lp, settings.lp_nodes)
            spent += seconds
            if best is not None:
                return model, mat, best, "lp_branch", spent, 0.0
        mip = s.mip()
        spent += mip.seconds
        if mip.x is None or not simultaneous(model, mip.x, dropped_only=True):
            return model, mat, mip, "milp", spent, 0.0
    started = time.perf_counter()
    if not model.full:
        model = build_model(model.request, full=True)
        mat = model.matrix()
    rebuilt = time.perf_counter() - started
    full = session(mat, settings, deadline).mip()
    return model, mat, full, "milp_full", spent + full.seconds, rebuilt


def branch_and_bound(model: Model, mat: Matrix, s, root: Solution, max_nodes: int) -> tuple[Solution | None, float]:
    """(the optimum or None, seconds): best-first branch and bound over LPs with fixed columns.

    None when the node budget runs out, a pair without a binary flows both ways
    (nothing to branch on), an LP ends without its optimum (e.g. at the time limit),
    or no node is feasible (the MILP decides then). Infeasible subtrees are pruned.
    """
    choice = np.flatnonzero(mat.integer & ~direction_columns(model, mat))
    queue = [(root.objective, 0, (), root)]
    spent, count = 0.0, 0
    while queue:
        _, _, fixings, node = heapq.heappop(queue)
        column = _branch_column(model, node.x, choice)
        if column is None:
            return node, spent  # MILP-feasible, and no open node has a lower bound
        if column < 0 or count + 2 > max_nodes:
            return None, spent
        for value in (1.0, 0.0):
            count += 1
            fixed = (*fixings, (column, value))
            child = s.fixed(np.array([c for c, _ in fixed]), np.array([v for _, v in fixed]))
            spent += child.seconds
            if child.status == "optimal":
                heapq.heappush(queue, (child.objective, count, fixed, child))
            elif child.status != "infeasible":  # no bound for that subtree (e.g. the time limit): no proof here
                return None, spent
    return None, spent


def direction_columns(model: Model, mat: Matrix) -> np.ndarray:
    """Per column: whether it is a direction binary (of a grid or storage pair)."""
    direction = np.zeros(mat.n_cols, dtype=bool)
    for p in model.pairs:
        direction[p.binary[p.binary >= 0]] = True
    return direction


def _branch_column(model: Model, x: np.ndarray, choice: np.ndarray) -> int | None:
    """The column to branch on: the most fractional choice binary, else the direction binary of a pair
    flowing both ways; None when ``x`` is MILP-feasible, -1 when only a pair without binary is at fault."""
    if len(choice):
        frac = np.minimum(x[choice] - np.floor(x[choice]), np.ceil(x[choice]) - x[choice])
        i = int(np.argmax(frac))
        if frac[i] > INTEGRAL_TOL:
            return int(choice[i])
    for p in model.pairs:
        both = np.flatnonzero(np.minimum(x[p.a], x[p.b]) > SIMULTANEOUS_TOL)
        if len(both):
            return int(p.binary[both[0]]) if p.binary[both[0]] >= 0 else -1
    return None


def lp_is_exact(model: Model, mat: Matrix, x: np.ndarray) -> bool:
    """Whether an LP-relaxation optimum ``x`` is feasible for the MILP: integral choices, no simultaneity."""
    choice = x[mat.integer & ~direction_columns(model, mat)]
    return bool(np.all(np.abs(choice - np.round(choice)) <= INTEGRAL_TOL)) and not simultaneous(model, x)


def simultaneous(model: Model, x: np.ndarray, dropped_only: bool = False) -> list[str]:
    """Names of the pairs that flow both ways in some step of ``x`` (only where no binary forbids it
    when ``dropped_only``)."""
    found = []
    for p in model.pairs:
        both = np.minimum(x[p.a], x[p.b]) > SIMULTANEOUS_TOL
        if dropped_only:
            both &= p.binary < 0
        if both.any():
            found.append(p.name)
    return found


def _feasible(request: DayRequest, settings: SolverSpec, deadline: float | None = None) -> bool:
    if precheck(request):
        return False
    model = build_model(request, full=not settings.fast_path)
    mat = model.matrix()
    return solve_exact(model, mat, settings, deadline)[2].status in ("optimal", "feasible")


def extract(m: Model, mat: Matrix, x: np.ndarray, status: str, solver: str) -> DayResult:
    """Read the schedule out of a solution ``x`` (each part through its kind) and price it."""
    r = m.request
    result = DayResult(status=status, solver=solver, n_variables=mat.n_cols, n_constraints=mat.n_rows)
    grid.extract(m, x, result)
    for kind, spec in parts(r):
        kind.extract(m, x, spec, result)
    price(r, result)
    result.penalty_eur = float(m.term_vector("penalty") @ x) if m.costs["penalty"] else 0.0
    result.add_up()
    return result


def price(r: DayRequest, result: DayResult) -> None:
    """Energy cost (import cost - export revenue), storage degradation and the demand charge of ``result``, EUR."""
    result.energy_cost_eur = energy_cost_eur(np.asarray(result.import_kw), np.asarray(result.export_kw),
                                             r.import_price_eur_kwh, r.export_price_eur_kwh, r.step_hours)
    result.degradation_eur = float(sum(kind.degradation_eur(r, spec, result.storages[spec.name])
                                       for kind, spec in r.storages()))
    result.demand_eur = grid.demand_eur(r, result.import_kw)
