"""Real local days of a building: which to run, and their data as arrays.

A day is valid when every settlement meter (e.g. grid_import, grid_export)
has a valid reading in every hour and every hour has a spot price; other days
are skipped and counted with the reason, never filled with zeros.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from datetime import date, timedelta

import numpy as np
import polars as pl


from ems.data.calendar import parse_day
from ems.data.store import Store

if TYPE_CHECKING:
    from ems.building import Building


@dataclass
class DayData:
    """One local day: its UTC hours (23, 24 or 25), spot price and device energy.

    ``energy_kwh[device]`` holds kWh per hour (NaN where the meter has no
    valid reading); ``hours`` has utc_hour, local_date, local_hour, price_eur_mwh.
    """

    day: date
    hours: pl.DataFrame
    energy_kwh: dict[str, np.ndarray]

    @property
    def n_steps(self) -> int:
        return self.hours.height

    def meter(self, device: str) -> np.ndarray:
        """kWh per hour of ``device``; zeros if the building has no such meter."""
        return self.energy_kwh.get(device, np.zeros(self.n_steps))


def select_days(store: Store, building: "Building", start: object, n_days: object) -> list[date]:
    """The local days of ``period.start`` / ``period.n_days`` that the building's data covers."""
    covered = store.local_dates(building.id)
    if not covered:
        return []
    first = parse_day(start, "period.start") if start is not None else covered[0]
    if n_days is not None and (not isinstance(n_days, int) or n_days < 1):
        raise ValueError(f"period.n_days={n_days!r} must be a positive whole number of days, or null for all")
    last = first + timedelta(days=n_days - 1) if n_days is not None else covered[-1]
    return [d for d in covered if first <= d <= last]


def load_days(store: Store, building: "Building", days: list[date]) -> tuple[list[DayData], dict[date, str]]:
    """Valid days as :class:`DayData`, and skipped days with the reason.

    One query for the whole span; each column becomes one array, cut at the
    local-day boundaries (a day's rows are contiguous in UTC order).
    """
    if not days:
        return [], {}
    lag = max((s.lag_days for s in building.synthetic_meters.values()), default=0)
    frame = store.energy_wide(building.id, days[0] - timedelta(days=lag), days[-1])
    for name, s in building.synthetic_meters.items():  # the copied meter's reading of the same UTC hour lag days before
        if s.copy_of in frame.columns:
            frame = frame.join(frame.select(pl.col("utc_hour") + pl.duration(days=s.lag_days), pl.col(s.copy_of)
                                            .alias(name)), on="utc_hour", how="left")
    dates = frame["local_date"].to_list()
    bounds = {}
    for i, d in enumerate(dates):  # first row and row count of each local day
        first, count = bounds.get(d, (i, 0))
        bounds[d] = (first, count + 1)
    meters = [d for d in (*building.devices, *building.synthetic_meters) if d in frame.columns]
    energy = {d: frame[d].cast(pl.Float64).fill_null(np.nan).to_numpy() for d in meters}
    missing_price = frame["price_eur_mwh"].is_null().to_numpy()
    hours = frame.select("utc_hour", "local_date", "local_hour", "price_eur_mwh")
    valid: list[DayData] = []
    skipped: dict[date, str] = {}
    for day in days:
        first, count = bounds[day]
        rows = slice(first, first + count)
        reason = _invalid_reason(missing_price[rows], {m: energy[m][rows] for m in meters}, building)
        if reason:
            skipped[day] = reason
            continue
        valid.append(DayData(day, hours.slice(first, count), {d: energy[d][rows].copy() for d in meters}))
    return valid, skipped


def _invalid_reason(missing_price: np.ndarray, energy: dict[str, np.ndarray], building: "Building") -> str | None:
    if missing_price.any():
        return "no day-ahead price for some hours"
    for meter in building.settlement_meters:
        if meter not in energy or np.isnan(energy[meter]).any():
            return f"{meter} has no valid reading for some hours"
    return None
