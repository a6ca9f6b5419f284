"""Solver back-ends: a :class:`~ems.optim.milp.Matrix` in, :class:`Solution` s out.

A :class:`Session` holds one problem and answers three questions about it:
its LP relaxation, the LP with some integer columns fixed, and the MILP.
HiGHS is driven directly (``highspy``'s core ``passModel`` with the CSC arrays;
one quiet solver object per thread, so no banner reaches stdout; the fixed LP
re-solves warm from the relaxation's basis). CBC goes through PuLP, which
takes the model row by row and solves each question afresh.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ems.optim.milp import Matrix
from ems.optim.solver import SolverSpec

#: HiGHS presolve for LP solves: off, the day LPs are small enough that presolve costs more than it saves.
LP_PRESOLVE = "off"


@dataclass
class Solution:
    """``status``: optimal (proven), feasible (within the gap or stopped by the time limit),
    infeasible, or error (``detail`` says what the solver reported). ``x`` per column,
    ``objective`` EUR, ``seconds`` the solver's wall time."""

    status: str
    x: np.ndarray | None = None
    objective: float = float("nan")
    seconds: float = 0.0
    detail: str = ""


def remaining_s(settings: SolverSpec, deadline: float | None) -> float:
    """Seconds one solve may take: what is left of the overall budget (``deadline``, a
    ``time.perf_counter()`` instant), else the solver's ``time_limit_s``."""
    if deadline is None:
        return float(settings.time_limit_s)
    return deadline - time.perf_counter()


TIME_LIMIT = "time limit reached"


def out_of_time(settings: SolverSpec) -> Solution:
    """What a solve answers when the overall budget is spent before it starts."""
    return Solution("error", detail=f"{TIME_LIMIT} (time_limit_s={settings.time_limit_s:g} covers building "
                                    "the model and every solve)")


class Session(Protocol):
    def relaxation(self) -> Solution:
        """The LP relaxation (integrality dropped)."""

    def fixed(self, cols: np.ndarray, values: np.ndarray) -> Solution:
        """The LP with columns ``cols`` fixed at ``values`` (and the other integers relaxed)."""

    def mip(self) -> Solution:
        """The MILP."""


_local = threading.local()


def _highs():
    """This thread's HiGHS object (the core class prints no banner; ``highspy.Highs()`` does)."""
    h = getattr(_local, "highs", None)
    if h is None:
        from highspy import _core

        h = _core._Highs()
        h.setOptionValue("output_flag", False)
        _local.highs = h
    return h


class HighsSession:
    """One problem in this thread's HiGHS object."""

    def __init__(self, mat: Matrix, settings: SolverSpec, deadline: float | None = None) -> None:
        from highspy import _core

        self.core, self.mat, self.settings, self.deadline = _core, mat, settings, deadline
        self.h = h = _highs()
        h.setOptionValue("output_flag", bool(settings.msg))
        h.setOptionValue("mip_rel_gap", float(settings.mip_rel_gap))
        h.setOptionValue("threads", int(settings.threads))
        h.passModel(mat.n_cols, mat.n_rows, len(mat.value), int(_core.MatrixFormat.kColwise),
                    int(_core.ObjSense.kMinimize), 0.0, mat.cost, mat.col_lower, mat.col_upper, mat.row_lower,
                    mat.row_upper, mat.start, mat.index, mat.value, np.zeros(mat.n_cols, dtype=np.int32))
        self.integer = np.flatnonzero(mat.integer).astype(np.int32)

    def _run(self, proven: bool) -> Solution:
        budget = remaining_s(self.settings, self.deadline)
        if budget <= 0:
            return out_of_time(self.settings)
        # HiGHS measures time_limit against the object's run time summed over every run() since it was
        # created (one object per thread, reused): the limit of this run is the time used so far + the budget.
        self.h.setOptionValue("time_limit", self.h.getRunTime() + budget)
        started = time.perf_counter()
        self.h.run()
        seconds = time.perf_counter() - started
        model_status, codes = self.h.getModelStatus(), self.core.HighsModelStatus
        info = self.h.getInfo()
        if model_status == codes.kOptimal:
            return Solution("optimal" if proven else "feasible", np.asarray(self.h.getSolution().col_value),
                            info.objective_function_value, seconds)
        if model_status in (codes.kInfeasible, codes.kUnboundedOrInfeasible):
            return Solution("infeasible", seconds=seconds)
        if info.primal_solution_status == 2:  # a feasible point, e.g. at the time limit
            return Solution("feasible", np.asarray(self.h.getSolution().col_value), info.objective_function_value,
                            seconds)
        return Solution("error", seconds=seconds, detail=self.h.modelStatusToString(model_status))

    def relaxation(self) -> Solution:
        self.h.setOptionValue("presolve", LP_PRESOLVE)
        return self._run(proven=True)

    def fixed(self, cols: np.ndarray, values: np.ndarray) -> Solution:
        cols = np.asarray(cols, dtype=np.int32)
        values = np.asarray(values, dtype=float)
        self.h.setOptionValue("presolve", LP_PRESOLVE)
        self.h.changeColsBounds(len(cols), cols, values, values)
        try:
            return self._run(proven=True)
        finally:
            self.h.changeColsBounds(len(cols), cols, self.mat.col_lower[cols], self.mat.col_upper[cols])

    def mip(self) -> Solution:
        self.h.setOptionValue("presolve", "choose")
        if len(self.integer):
            self.h.changeColsIntegrality(len(self.integer), self.integer, np.ones(len(self.integer), dtype=np.uint8))
        return self._run(proven=not len(self.integer) or self.settings.mip_rel_gap == 0)


class PulpSession:
    """One problem solved through PuLP (CBC), rebuilt for each question."""

    def __init__(self, mat: Matrix, settings: SolverSpec, deadline: float | None = None) -> None:
        self.mat, self.settings, self.deadline = mat, settings, deadline
        self.rows = mat.rows_of()

    def _solve(self, integer: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> Solution:
        import pulp

        mat, s = self.mat, self.settings
        prob = pulp.LpProblem("ems_day", pulp.LpMinimize)
        bound = lambda v: None if np.isinf(v) else float(v)  # noqa: E731
        x = [pulp.LpVariable(f"x{j}", bound(lower[j]), bound(upper[j]),
                             pulp.LpInteger if integer[j] else pulp.LpContinuous) for j in range(mat.n_cols)]
        prob.setObjective(pulp.LpAffineExpression([(x[j], float(c)) for j, c in enumerate(mat.cost) if c]))
        for i, terms in enumerate(self.rows):
            expr = pulp.LpAffineExpression([(x[j], c) for j, c in terms])
            low, up = mat.row_lower[i], mat.row_upper[i]
            if low == up:
                prob += pulp.LpConstraint(expr, pulp.LpConstraintEQ, name=f"r{i}", rhs=float(low))
                continue
            if not np.isinf(low):
                prob += pulp.LpConstraint(expr, pulp.LpConstraintGE, name=f"r{i}_lo", rhs=float(low))
            if not np.isinf(up):
                prob += pulp.LpConstraint(expr, pulp.LpConstraintLE, name=f"r{i}_up", rhs=float(up))
        budget = remaining_s(s, self.deadline)
        if budget <= 0:
            return out_of_time(s)
        started = time.perf_counter()
        prob.solve(pulp.PULP_CBC_CMD(msg=s.msg, gapRel=s.mip_rel_gap, timeLimit=max(1, round(budget)),
                                     threads=s.threads))
        seconds = time.perf_counter() - started

        def found(status: str) -> Solution:
            values = np.array([v.varValue or 0.0 for v in x])
            return Solution(status, values, float(mat.cost @ values), seconds)

        if prob.status == pulp.LpStatusInfeasible or prob.sol_status == pulp.LpSolutionInfeasible:
            return Solution("infeasible", seconds=seconds)
        if prob.sol_status == pulp.LpSolutionOptimal and prob.status == pulp.LpStatusOptimal:
            return found("optimal" if not integer.any() or s.mip_rel_gap == 0 else "feasible")
        if prob.sol_status == pulp.LpSolutionIntegerFeasible:
            return found("feasible")
        return Solution("error", seconds=seconds, detail=pulp.LpStatus[prob.status])

    def relaxation(self) -> Solution:
        return self._solve(np.zeros(self.mat.n_cols, bool), self.mat.col_lower, self.mat.col_upper)

    def fixed(self, cols: np.ndarray, values: np.ndarray) -> Solution:
        lower, upper = self.mat.col_lower.copy(), self.mat.col_upper.copy()
        lower[cols] = upper[cols] = values
        return self._solve(np.zeros(self.mat.n_cols, bool), lower, upper)

    def mip(self) -> Solution:
        return self._solve(self.mat.integer, self.mat.col_lower, self.mat.col_upper)


SESSIONS = {"highs": HighsSession, "cbc": PulpSession}


def session(mat: Matrix, settings: SolverSpec, deadline: float | None = None) -> Session:
    """A session on ``mat`` with the configured solver; every solve ends by ``deadline``
    (a ``time.perf_counter()`` instant; None: each solve gets ``time_limit_s``)."""
    return SESSIONS[settings.name](mat, settings, deadline)
