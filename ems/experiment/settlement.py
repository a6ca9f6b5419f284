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
    #: Each battery's and EV's net power (charge - discharge), by name.
    storage_kw: dict[str, np.ndarray]


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
    storages = {name: storage_kw(s, n) for name, s in plan.storages.items()}
    curtailed = np.minimum(np.asarray(plan.pv_curtailed_kw or np.zeros(n)), actual_pv_kw)
    net = actual_base_kw + flexible + sum(storages.values(), np.zeros(n)) - (actual_pv_kw - curtailed)
    return Settled(np.maximum(net, 0.0), np.maximum(-net, 0.0), curtailed, flexible, storages)


def battery_columns(columns: list[str]) -> set[str]:
    """The schedule's battery power columns (kW): ``battery_kw`` (their sum) and, with several batteries, each
    one's ``<name>_kw`` (the columns with a ``<name>_soc_kwh`` beside them); not devices to stack."""
    return {"battery_kw"} | {c.removesuffix("_soc_kwh") + "_kw" for c in columns if c.endswith("_soc_kwh")}
