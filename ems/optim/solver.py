"""The MILP solver of a request or a run (HiGHS default, CBC selectable) and how it is used.

One record serves the day request's ``solver`` field and the ``solver`` config
group (``_target_: ems.optim.solver.SolverSpec``), so it is validated once.
HiGHS is driven directly through ``highspy``; CBC through PuLP (its bundled
binary). The solvers are imported only when a model is solved.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from ems.optim.kinds.base import Positive, Record

SOLVERS = {"highs": "HiGHS (highspy)", "cbc": "COIN-OR CBC (PuLP)"}
#: Default LP budget of the fast path's branch and bound: HiGHS re-solves warm (~0.1-0.5 ms per LP);
#: every CBC solve through PuLP starts a process (~10 ms), so CBC goes from the LP straight to the MILP.
LP_NODES = {"highs": 64, "cbc": 0}


class SolverSpec(Record):
    """Which MILP solver to use and how hard to try.

    ``mip_rel_gap`` 0 asks for a proven optimum; ``time_limit_s`` bounds one
    solve (seconds); ``threads`` per solve; ``msg`` prints the solver's log.
    ``fast_path``: solve the LP relaxation first and accept it when it is
    integral and free of simultaneous flows, else branch on it for at most
    ``max_lp_nodes`` LPs, then the MILP without the direction binaries that
    provably cannot change the optimum, and only when that solution shows
    simultaneous flows the full binary MILP (every path proves the same
    optimum; see ems.optim.optimize). False solves the full binary MILP directly.
    """

    label = "solver"
    name: str = "highs"
    mip_rel_gap: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.0
    time_limit_s: Positive = 60.0
    threads: Annotated[int, Field(ge=1)] = 1
    msg: bool = False
    fast_path: bool = True
    max_lp_nodes: Annotated[int, Field(ge=0)] | None = None

    @property
    def lp_nodes(self) -> int:
        """The branch-and-bound LP budget (``max_lp_nodes``, or the solver's default in ``LP_NODES``)."""
        return LP_NODES[self.name] if self.max_lp_nodes is None else self.max_lp_nodes

    @model_validator(mode="after")
    def _known(self) -> "SolverSpec":
        if self.name not in SOLVERS:
            raise ValueError(f"name={self.name!r}: must be one of {', '.join(SOLVERS)}")
        return self

    def available(self) -> bool:
        """Whether this solver is installed and runnable here."""
        if self.name == "highs":
            try:
                from highspy import _core  # noqa: F401
            except ImportError:
                return False
            return True
        import pulp

        return bool(pulp.PULP_CBC_CMD(msg=False).available())
