"""Forecasts of the day's base load and PV for planning (settlement always uses the actual values).

``perfect`` is the day's actual values: an upper bound on what forecasting can
give, labelled so in every table. ``naive`` is the mean of the same local hour
over the last days. ``ml`` fits ems.forecasting's LightGBM forecasters (base
load from calendar, temperature and lags; PV from irradiance through pvlib
plane-of-array features, by the house's PVAgent) on the building's own days
before the forecast day only, refitted every ``refit_days``; the weather of the
day (WeatherAgent) stands in for a weather forecast. Each forecast gets the
valid days before the period (``prepare``) and every replayed day after it is
planned (``observe``); none reads the day it forecasts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl

from ems.agents.pv import PVAgent
from ems.checks import require_whole
from ems.forecasting import LoadForecaster, NaiveForecaster


@dataclass
class Predicted:
    """What a plan assumes for one day: base load and PV (kW per step) and, from a forecaster with
    quantiles, each level's values (``base_q[q]``, ``pv_q[q]``)."""

    base_kw: np.ndarray
    pv_kw: np.ndarray
    base_q: dict[float, np.ndarray] = field(default_factory=dict)
    pv_q: dict[float, np.ndarray] = field(default_factory=dict)


def _series(hours: pl.DataFrame, base: np.ndarray, pv: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"utc_hour": hours["utc_hour"], "base_kw": np.asarray(base, float),
                         "pv_kw": np.asarray(pv, float)}).with_columns(pl.col("utc_hour").cast(pl.Datetime("us")))


@dataclass
class PerfectForecast:
    """The day's actual base load and PV (kW per step): what planning could at best know."""

    name: str = "perfect"
    needs_history: bool = False

    def prepare(self, history: pl.DataFrame, weather: pl.DataFrame | None) -> None:
        """Perfect foresight needs no history."""

    def predict(self, hours: pl.DataFrame, actual_base: np.ndarray, actual_pv: np.ndarray) -> Predicted:
        return Predicted(actual_base.copy(), actual_pv.copy())

    def observe(self, hours: pl.DataFrame, base: np.ndarray, pv: np.ndarray) -> None:
        """Perfect foresight keeps no history."""


@dataclass
class NaiveForecast:
    """Mean of the same local hour over the last ``days`` days before the forecast day (the days
    before the period, then each replayed day). Without any such day ``predict`` returns None
    and the runner skips the day (counted, not filled)."""

    days: int = 7
    name: str = "naive"
    timezone: str = "Europe/Berlin"
    needs_history: bool = True
    _history: pl.DataFrame = field(default_factory=lambda: _series(pl.DataFrame({"utc_hour": []}), [], []),
                                   repr=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.days, int) and self.days >= 1):
            raise ValueError(f"forecast.days={self.days!r} must be a whole number >= 1")

    def prepare(self, history: pl.DataFrame, weather: pl.DataFrame | None) -> None:
        self._history = history.select("utc_hour", "base_kw", "pv_kw")

    def observe(self, hours: pl.DataFrame, base: np.ndarray, pv: np.ndarray) -> None:
        self._history = pl.concat([self._history, _series(hours, base, pv)]).tail(24 * (self.days + 2))

    def predict(self, hours: pl.DataFrame, actual_base: np.ndarray, actual_pv: np.ndarray) -> Predicted | None:
        if self._history.is_empty():
            return None
        at, n = _start(hours), hours.height
        out = []
        for column in ("base_kw", "pv_kw"):
            model = NaiveForecaster(self.days, self.timezone).fit(self._history.rename({column: "value"}))
            out.append(_on_steps(model.predict(at, n), hours))
        return Predicted(*out)


def _start(hours: pl.DataFrame) -> datetime:
    return hours["utc_hour"][0]


def _on_steps(forecast, hours: pl.DataFrame, values=None) -> np.ndarray:
    """A forecast's values on the day's steps (its hours are the day's UTC hours, in order)."""
    values = forecast.point if values is None else values
    return np.asarray(values[:hours.height], float)


@dataclass
class LearnedForecast:
    """Base load and PV from ems.forecasting's LightGBM forecasters fitted on the days before the
    forecast day (see the module docstring); quantiles as configured."""

    pv: PVAgent = field(default_factory=PVAgent)
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    refit_days: int = 28          # refit both models after this many new days
    min_history_days: int = 14    # days before the first forecast (fewer: the day is skipped)
    timezone: str = "Europe/Berlin"
    name: str = "ml"
    needs_history: bool = True
    _history: pl.DataFrame | None = field(default=None, repr=False)
    _weather: pl.DataFrame | None = field(default=None, repr=False)
    _models: tuple | None = field(default=None, repr=False)
    _since_fit: int = 0

    def __post_init__(self) -> None:
        self.quantiles = tuple(float(q) for q in self.quantiles)
        require_whole("forecast", self, "refit_days", "min_history_days")

    def prepare(self, history: pl.DataFrame, weather: pl.DataFrame | None) -> None:
        if weather is None or not {"temperature_c", "direct_wm2", "diffuse_wm2"} <= set(weather.columns):
            raise ValueError("forecast=ml: needs weather with temperature and irradiance (ingest "
                             "data/opsd_weather_de_60min_2014_2019.csv.gz)")
        self._history, self._weather = history.select("utc_hour", "base_kw", "pv_kw"), weather
        self._models, self._since_fit = None, 0

    def observe(self, hours: pl.DataFrame, base: np.ndarray, pv: np.ndarray) -> None:
        self._history = pl.concat([self._history, _series(hours, base, pv)])
        self._since_fit += 1

    def _fit(self) -> None:
        load = LoadForecaster(self.quantiles, timezone=self.timezone)
        solar = self.pv.forecaster(self.quantiles, self.timezone)
        history = self._history
        load.fit(history.select("utc_hour", value="base_kw"), self._weather)
        solar.fit(history.select("utc_hour", value="pv_kw"), self._weather)
        self._models, self._since_fit = (load, solar), 0

    def predict(self, hours: pl.DataFrame, actual_base: np.ndarray, actual_pv: np.ndarray) -> Predicted | None:
        if self._history is None or self._history.height < 24 * self.min_history_days:
            return None
        if self._models is None or self._since_fit >= self.refit_days:
            self._fit()
        at, n = _start(hours), hours.height
        base_fc, pv_fc = (m.predict(at, n, history=self._history.select("utc_hour", value=c), weather=self._weather)
                          for m, c in zip(self._models, ("base_kw", "pv_kw")))
        return Predicted(_on_steps(base_fc, hours), _on_steps(pv_fc, hours),
                         {q: _on_steps(base_fc, hours, v) for q, v in base_fc.quantiles.items()},
                         {q: _on_steps(pv_fc, hours, v) for q, v in pv_fc.quantiles.items()})
