"""Scheduling modes: how a day's grid exchange comes about.

A mode has ``name`` and ``schedule_day(day) -> DaySchedule``. The optimising
modes (rule_based, decentralized, centralized, phases) build on the MILP.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ems.experiment.days import DayData


@dataclass
class DaySchedule:
    """A day's grid exchange, kWh per step."""

    import_kwh: np.ndarray
    export_kwh: np.ndarray


@dataclass
class Baseline:
    """What actually happened: the metered grid import and export."""

    name: str = "baseline"

    def schedule_day(self, day: DayData) -> DaySchedule:
        return DaySchedule(import_kwh=day.meter("grid_import"), export_kwh=day.meter("grid_export"))
