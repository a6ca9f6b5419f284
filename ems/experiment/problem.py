"""A real day as a scheduling problem: the metered day's needs plus what settlement needs.

The needs (jobs, EV sessions, base load, PV) come from
:func:`ems.planning.needs.metered_needs`; the priced request from the house's
:class:`~ems.agents.optimizer.GlobalOptimizer` (the one day-request builder).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ems.building import Building
from ems.data.days import DayData
from ems.planning.needs import DayNeeds, ReplaySettings, metered_needs

__all__ = ["DayProblem", "ReplaySettings", "pose"]


@dataclass
class DayProblem:
    """One metered day: its needs and the actual values settlement needs (kW per 1-h step)."""

    day: DayData
    needs: DayNeeds
    metered_import_kwh: np.ndarray      # grid_import plus separately metered devices
    metered_export_kwh: np.ndarray

    @property
    def actual_base_kw(self) -> np.ndarray:
        return self.needs.base_kw

    @property
    def actual_pv_kw(self) -> np.ndarray:
        return self.needs.pv_kw

    @property
    def device_of(self) -> dict[str, str]:
        return self.needs.device_of


def pose(day: DayData, building: Building, settings: ReplaySettings, max_kw: dict[str, float],
         ev_agent=None) -> DayProblem | str:
    """The day's problem, or the reason it cannot be posed (e.g. negative base load)."""
    needs = metered_needs(day, building, settings, max_kw, ev_agent)
    if isinstance(needs, str):
        return needs
    n = day.n_steps
    grid_import = np.nan_to_num(day.meter("grid_import")) + sum(
        (np.nan_to_num(day.meter(d)) for d in building.separately_metered), np.zeros(n))
    return DayProblem(day, needs, grid_import, np.nan_to_num(day.meter("grid_export")))
