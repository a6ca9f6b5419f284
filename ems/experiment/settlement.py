"""Settling a planned day against what actually happened (pure functions of arrays).

The plan was made with forecast base load and PV; settlement replaces them
with the actual values and lets the grid absorb the difference, so a
forecast error costs money as it would in reality.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ems.optim.result import DayResult, StorageSchedule


@dataclass
class Settled:
    """Actual grid exchange of a planned day (kW per step)."""

    import_kw: np.ndarray
    export_kw: np.ndarray
    curtailed_kw: np.ndarray
    flexible_kw: np.ndarray
    battery_kw: np.ndarray  # charge - discharge
    ev_kw: np.ndarray       # charge - discharge (V2G)


def storage_kw(schedule: StorageSchedule | None, n: int) -> np.ndarray:
    """Net grid-side power of a storage schedule (charge - discharge, kW); zeros without one."""
    if schedule is None:
        return np.zeros(n)
    discharge = schedule.discharge_kw if schedule.discharge_kw is not None else np.zeros(n)
    return np.asarray(schedule.charge_kw, dtype=float) - np.asarray(discharge, dtype=float)


def settle(plan: DayResult, actual_base_kw: np.ndarray, actual_pv_kw: np.ndarray) -> Settled:
    """Net the plan's device, battery and EV power against the actual base load and PV."""
    n = len(actual_base_kw)
    flexible = sum((np.asarray(s.power_kw) for s in plan.devices.values()), np.zeros(n))
    battery, ev = storage_kw(plan.battery, n), storage_kw(plan.ev, n)
    curtailed = np.minimum(np.asarray(plan.pv_curtailed_kw or np.zeros(n)), actual_pv_kw)
    net = actual_base_kw + flexible + battery + ev - (actual_pv_kw - curtailed)
    return Settled(np.maximum(net, 0.0), np.maximum(-net, 0.0), curtailed, flexible, battery, ev)
