"""Solver settings and the PuLP solver objects they build (HiGHS default, CBC selectable)."""

from __future__ import annotations

from dataclasses import dataclass

import pulp

SOLVERS = {"highs": "HiGHS", "cbc": "PULP_CBC_CMD"}


@dataclass
class SolverSettings:
    """Which MILP solver to use and how hard to try.

    ``mip_rel_gap`` 0 asks for a proven optimum; ``time_limit_s`` bounds one solve.
    """

    name: str = "highs"
    mip_rel_gap: float = 0.0
    time_limit_s: float = 60.0
    threads: int = 1
    msg: bool = False

    def __post_init__(self) -> None:
        if self.name not in SOLVERS:
            raise ValueError(f"solver.name={self.name!r} is not one of {', '.join(SOLVERS)}")
        if not 0 <= self.mip_rel_gap < 1:
            raise ValueError(f"solver.mip_rel_gap={self.mip_rel_gap!r} must be in [0, 1)")
        if not self.time_limit_s > 0:
            raise ValueError(f"solver.time_limit_s={self.time_limit_s!r} must be positive")

    def available(self) -> bool:
        """Whether this solver is installed and runnable here."""
        return self.pulp_solver().available()

    def pulp_solver(self) -> pulp.LpSolver:
        """A configured PuLP solver object."""
        solver_class = getattr(pulp, SOLVERS[self.name])
        return solver_class(msg=self.msg, gapRel=self.mip_rel_gap, timeLimit=self.time_limit_s, threads=self.threads)
