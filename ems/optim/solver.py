"""The MILP solver of a request or a run (HiGHS default, CBC selectable) and the PuLP object it builds.

One record serves the day request's ``solver`` field and the ``solver`` config
group (``_target_: ems.optim.solver.SolverSpec``), so it is validated once.
"""

from __future__ import annotations

from typing import Annotated

import pulp
from pydantic import Field, model_validator

from ems.optim.kinds.base import Positive, Record

SOLVERS = {"highs": "HiGHS", "cbc": "PULP_CBC_CMD"}


class SolverSpec(Record):
    """Which MILP solver to use and how hard to try.

    ``mip_rel_gap`` 0 asks for a proven optimum; ``time_limit_s`` bounds one
    solve (seconds); ``threads`` per solve; ``msg`` prints the solver's log.
    """

    label = "solver"
    name: str = "highs"
    mip_rel_gap: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.0
    time_limit_s: Positive = 60.0
    threads: Annotated[int, Field(ge=1)] = 1
    msg: bool = False

    @model_validator(mode="after")
    def _known(self) -> "SolverSpec":
        if self.name not in SOLVERS:
            raise ValueError(f"name={self.name!r}: must be one of {', '.join(SOLVERS)}")
        return self

    def available(self) -> bool:
        """Whether this solver is installed and runnable here."""
        return self.pulp_solver().available()

    def pulp_solver(self) -> pulp.LpSolver:
        """A configured PuLP solver object."""
        solver_class = getattr(pulp, SOLVERS[self.name])
        return solver_class(msg=self.msg, gapRel=self.mip_rel_gap, timeLimit=self.time_limit_s, threads=self.threads)
