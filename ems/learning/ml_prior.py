"""prior=ml: PMFs from the registered usage models (loaded by alias), one per day.

For local day d the hourly model's P(usage in hour h | used on d) over the 24
local hours, normalised, is the PMF; its features use only data before d
(plus the day's temperature, standing in for a forecast). A device without a
champion model (none trained, or every one lost to its frequency baseline)
gets that baseline: the hour x day-type frequency of its usage over the days
before d; this is logged once.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

import numpy as np
import polars as pl

from ems.data.calendar import WHOLE_RECORD
from ems.data.store import Store
from ems.learning import registry
from ems.learning.features import daily_frame, weather_frame
from ems.learning.predictor import predict_daily, predict_hourly
from ems.data.calendar import HOURS, day_type
from ems.learning.runs import RunSettings
from ems.learning.usage import load_usage, usage_histogram

log = logging.getLogger(__name__)
HISTORY_DAYS = 30  # the lag features look back at most this far


class MLPrior:
    """Day-specific PMFs from ``{building}_{device}_hourly@alias`` (and P(used) from ``_daily@alias``)."""

    def __init__(self, db: str, building, tracking_uri: str, alias: str = "champion", timezone: str = "Europe/Berlin",
                 runs: RunSettings | None = None):
        self.building, self.alias = building, alias
        registry.mlflow.set_tracking_uri(tracking_uri)
        with Store(db, timezone) as store:
            self.usage = load_usage(store, building, *WHOLE_RECORD, runs or RunSettings())
            days = [d for ds in self.usage.learnable_days.values() for d in ds] or [date(2016, 1, 1)]
            self.weather = weather_frame(store, min(days) - timedelta(days=HISTORY_DAYS), max(days))
        self.models: dict[tuple[str, str], object] = {}

    def _model(self, device: str, kind: str):
        key = (device, kind)
        if key not in self.models:
            name = registry.model_name(self.building.id, device, kind)
            try:
                self.models[key] = registry.load(name, kind, self.alias)
            except registry.mlflow.exceptions.MlflowException:
                log.warning("no %s@%s in the registry (none trained, or none beat its frequency baseline): %s "
                            "uses the hour x day-type frequency of its usage before each day", name, self.alias, device)
                self.models[key] = None
        return self.models[key]

    def features(self, device: str, day: date) -> pl.DataFrame:
        """The daily feature row of ``device`` for ``day`` (lags from the days before it only)."""
        frame = daily_frame(self.usage, device, self.weather, day - timedelta(days=HISTORY_DAYS), day,
                            only_learnable=False)
        return frame.filter(pl.col("local_date") == day)

    def p_used(self, device: str, day: date) -> float:
        """P(device used on ``day``) from the daily model (NaN without one)."""
        model = self._model(device, "daily")
        return float(predict_daily(model, self.features(device, day))[0]) if model is not None else float("nan")

    def pmf(self, device: str, day: date) -> np.ndarray:
        """The hourly model's normalised P(usage in hour | used) for local ``day``."""
        model = self._model(device, "hourly")
        if model is None:
            before = self.usage.used.filter(pl.col("local_date") < day)
            return usage_histogram(before, device, day_type(day), 1.0)
        row = self.features(device, day).drop("used", "temp_mean")
        hours = row.join(pl.DataFrame({"hour": list(range(HOURS))}, schema={"hour": pl.Int8}), how="cross")
        temps = self.weather.filter(pl.col("local_date") == day).group_by(
            pl.col("local_hour").cast(pl.Int8).alias("hour")).agg(temp=pl.col("temperature_c").mean())
        hours = hours.join(temps, on="hour", how="left").sort("hour")
        p = predict_hourly(model, hours)
        return p / p.sum()
