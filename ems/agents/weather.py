"""WeatherAgent: the hourly weather forecasters and usage models may use, read from the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import polars as pl

from ems.data.store import Store
from ems.learning.features import weather_frame


@dataclass
class WeatherAgent:
    """Hourly weather of local days from the store's ``weather`` table (temperature in deg C).

    The day's observed weather stands in for a forecast of it (say so in any
    result that uses it). Frames are cached per (first, last) range.
    """

    db: str
    timezone: str = "Europe/Berlin"
    region: str = "DE"
    _cache: dict = field(default_factory=dict, repr=False)

    def hours(self, first: date, last: date) -> pl.DataFrame:
        """utc_hour, local_date, local_hour, temperature_c of local days [first, last]."""
        key = (first, last)
        if key not in self._cache:
            with Store(self.db, self.timezone) as store:
                self._cache[key] = weather_frame(store, first, last, self.region)
        return self._cache[key]
