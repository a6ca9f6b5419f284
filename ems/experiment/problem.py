"""A real day as a scheduling problem: the metered day's needs plus what settlement needs.

The needs (jobs, EV sessions, base load, PV, the metered grid exchange) come
from :func:`ems.planning.needs.metered_needs`; the priced request from the
house's :class:`~ems.agents.optimizer.GlobalOptimizer` (the one day-request builder).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ems.building import Building
from ems.data.days import DayData
from ems.planning.heating import Heating
from ems.planning.needs import DayNeeds, ReplaySettings, metered_needs

__all__ = ["DayProblem", "ReplaySettings", "pose"]


@dataclass
class DayProblem:
    """One metered day and its needs (kW per 1-h step); the actual values settlement needs."""

    day: DayData
    needs: DayNeeds

    @property
    def actual_base_kw(self) -> np.ndarray:
        return self.needs.base_kw

    @property
    def actual_pv_kw(self) -> np.ndarray:
        return self.needs.pv_kw

    @property
    def metered_import_kwh(self) -> np.ndarray:
        """grid_import plus separately metered devices (kWh per hour)."""
        return self.needs.metered_import_kwh

    @property
    def metered_export_kwh(self) -> np.ndarray:
        return self.needs.metered_export_kwh

    @property
    def device_of(self) -> dict[str, str]:
        return self.needs.device_of


def pose(day: DayData, building: Building, settings: ReplaySettings, max_kw: dict[str, float],
         ev_agents=(), heating: Heating | None = None) -> DayProblem | str:
    """The day's problem, or the reason it cannot be posed (e.g. negative base load). With a prepared
    ``heating`` that plans thermally, its heat pumps are thermal devices instead of daily quotas."""
    needs = metered_needs(day, building, settings, max_kw, ev_agents)
    if isinstance(needs, str):
        return needs
    if heating is not None:
        needs = heating.apply(needs, day.hours["utc_hour"].to_list())
    return DayProblem(day, needs)
