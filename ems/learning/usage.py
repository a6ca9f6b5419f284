"""A building's observed usage from the store: events, hourly usage, learnable days, histograms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from ems.data.store import Store
from ems.data.calendar import HOURS
from ems.learning.runs import RunSettings, events

@dataclass
class Usage:
    """Events and hourly usage of a building's flexible devices over local days [first, last]."""

    events: pl.DataFrame   # device, start_utc, local_date, start_hour, day_type, hours, energy_kwh, profile
    used: pl.DataFrame     # device, local_date, local_hour, used
    learnable_days: dict[str, set[date]]  # device -> days whose every hour is learnable

    def indicator(self, device: str, day: date) -> np.ndarray:
        """T: 1 for each local hour (0..23) in which the device ran on ``day``."""
        hours = self.used.filter(pl.col("device") == device, pl.col("local_date") == day)["local_hour"].to_list()
        out = np.zeros(HOURS)
        out[hours] = 1.0
        return out

    def start_hours(self, device: str, day: date) -> list[int]:
        rows = self.events.filter(pl.col("device") == device, pl.col("local_date") == day)
        return rows["start_hour"].to_list()


def load_usage(store: Store, building, first: date, last: date, runs: RunSettings) -> Usage:
    """Usage of ``building``'s discrete-phase and partial-usage devices on local days [first, last]."""
    devices = building.usage_devices()
    readings = store.query(
        "SELECT device, utc_hour, local_date, energy_kwh, learnable FROM readings WHERE building = ? "
        "AND device IN (SELECT unnest(?)) AND local_date BETWEEN ? AND ?", [building.id, devices, first, last])
    found, used = events(readings.drop("local_date"), runs, store.timezone)
    hours = store.hours(first, last).group_by("local_date").len().rename({"len": "day_hours"})
    complete = (readings.filter(pl.col("learnable")).group_by("device", "local_date").len()
                .join(hours, on="local_date").filter(pl.col("len") == pl.col("day_hours")))
    days = {d: set(complete.filter(pl.col("device") == d)["local_date"].to_list()) for d in devices}
    return Usage(found, used, days)


def start_histogram(events: pl.DataFrame, device: str, day_type: str, smoothing: float) -> np.ndarray:
    """Smoothed start-hour PMF: (count per local hour + smoothing) normalised."""
    hours = events.filter(pl.col("device") == device, pl.col("day_type") == day_type)["start_hour"].to_numpy()
    counts = np.bincount(hours.astype(int), minlength=HOURS).astype(float) + smoothing
    return counts / counts.sum()


def usage_histogram(used: pl.DataFrame, device: str, day_type: str, smoothing: float) -> np.ndarray:
    """Smoothed usage-hour PMF of an energy-window device: (days it was used in each local hour +
    smoothing) normalised; ``used`` as :attr:`Usage.used`."""
    weekend = pl.col("local_date").dt.weekday() >= 6
    rows = used.filter(pl.col("device") == device, weekend if day_type == "weekend" else ~weekend)
    counts = np.bincount(rows["local_hour"].to_numpy().astype(int), minlength=HOURS).astype(float) + smoothing
    return counts / counts.sum()
