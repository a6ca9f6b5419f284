"""GlobalOptimizer: the centralized MILP over every device of a building."""

from __future__ import annotations

from dataclasses import dataclass, field

from ems.optim.optimize import optimize_day
from ems.optim.request import DayRequest
from ems.optim.result import DayResult
from ems.optim.solver import SolverSettings


@dataclass
class GlobalOptimizer:
    """Schedules all flexible devices, battery and EV together (one MILP per day)."""

    solver: SolverSettings = field(default_factory=SolverSettings)

    def optimize(self, request: DayRequest) -> DayResult:
        """A validated optimal schedule for ``request``, or a diagnosis."""
        return optimize_day(request, self.solver)
