"""The forecasters: naive (same hour, last days), LightGBM load, LightGBM PV from irradiance (pvlib features).

Each has ``fit(history, weather=None)`` and ``predict(at, horizon_h, history=None,
weather=None) -> Forecast``. A model fitted on data at or after ``at`` refuses
to predict (FutureDataError); ``history`` for the lags (default: the fitted
one) is used only on full local days before ``at``'s day. The learned ones give
the point forecast (the 0.5 quantile) and every configured quantile; quantiles
are sorted per hour (no crossing) and clipped at 0 kW.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl

from ems.forecasting.base import (LAGS, Forecast, FutureDataError, before_day, features, forecast_hours, hourly,
                                  origin_day, with_local)

#: LightGBM settings of every quantile model: small trees, deterministic, one thread (the replay runs
#: many fits; a sweep runs jobs in parallel).
GBM_PARAMS = {"n_estimators": 150, "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 20,
              "subsample": 1.0, "deterministic": True, "force_row_wise": True, "n_jobs": 1, "verbose": -1,
              "random_state": 0}
#: Plane-of-array orientations (tilt deg, azimuth deg) whose irradiance the PV model may combine:
#: the roof's orientation is unknown, the model learns its mix from the building's own PV.
ORIENTATIONS = {"poa_south": (30.0, 180.0), "poa_east": (30.0, 90.0), "poa_west": (30.0, 270.0)}


@dataclass
class NaiveForecaster:
    """The mean of the same local hour over the last ``days`` full days before the forecast day
    (no recent day: 0 kW; an hour none of them had: the neighbouring hour's value)."""

    days: int = 7
    timezone: str = "Europe/Berlin"
    _history: pl.DataFrame | None = field(default=None, repr=False)

    def fit(self, history: pl.DataFrame, weather: pl.DataFrame | None = None) -> "NaiveForecaster":
        self._history = hourly(history)
        return self

    def predict(self, at: datetime, horizon_h: int = 24, history: pl.DataFrame | None = None,
                weather: pl.DataFrame | None = None) -> Forecast:
        hours = forecast_hours(at, horizon_h)
        past = before_day(hourly(history) if history is not None else self._history, at, self.timezone, self.days)
        recent = with_local(past, self.timezone)
        # Each day counts once per hour (the repeated autumn hour is that day's mean of its two).
        daily = recent.group_by("local_date", "hour", maintain_order=True).agg(pl.col("value").mean())
        means = daily.group_by("hour", maintain_order=True).agg(pl.col("value").mean())
        frame = with_local(hours, self.timezone).join(means, on="hour", how="left").sort("utc_hour")
        # An hour no recent day had (02:00 after a spring day only): its neighbour's value.
        point = frame["value"].fill_null(strategy="forward").fill_null(strategy="backward").fill_null(0.0).to_numpy()
        return Forecast(at, hours["utc_hour"].to_numpy(), point)


@dataclass
class _QuantileModel:
    """One LightGBM regressor per quantile level over the forecaster's feature columns."""

    quantiles: tuple[float, ...]
    columns: list[str]
    timezone: str
    fitted_until: datetime | None = None
    _models: dict = field(default_factory=dict, repr=False)
    _history: pl.DataFrame | None = field(default=None, repr=False)

    def _check(self) -> None:
        if not self.quantiles or any(not 0 < q < 1 for q in self.quantiles):
            raise ValueError(f"quantiles={self.quantiles}: give levels in (0, 1), e.g. (0.1, 0.5, 0.9)")

    def train(self, frame: pl.DataFrame, history: pl.DataFrame) -> None:
        from lightgbm import LGBMRegressor

        self._check()
        rows = frame.drop_nulls("value")
        if rows.height < 48:
            raise ValueError(f"history: {rows.height} hours with a value; a forecaster needs at least 48")
        x, y = rows.select(self.columns).to_numpy(), rows["value"].to_numpy()
        levels = sorted(set(self.quantiles) | {0.5})
        self._models = {q: LGBMRegressor(objective="quantile", alpha=q, **GBM_PARAMS).fit(x, y) for q in levels}
        self.fitted_until, self._history = history["utc_hour"].max(), history

    def forecast(self, at: datetime, frame: pl.DataFrame, zero: np.ndarray | None = None) -> Forecast:
        if not self._models:
            raise ValueError("predict: fit the forecaster first")
        if self.fitted_until is not None and self.fitted_until >= at:
            raise FutureDataError(f"at={at}: the model was fitted on data up to {self.fitted_until}; fit it on "
                                  f"history before the forecast time")
        x = frame.select(self.columns).to_numpy()
        raw = np.vstack([np.maximum(self._models[q].predict(x), 0.0) for q in sorted(self._models)])
        raw = np.sort(raw, axis=0)  # no quantile crossing
        if zero is not None:
            raw[:, zero] = 0.0
        levels = sorted(self._models)
        by_level = dict(zip(levels, raw))
        return Forecast(at, frame["utc_hour"].to_numpy(), by_level[0.5],
                        {q: by_level[q] for q in self.quantiles})


class _Learned:
    """Fit and predict of the LightGBM forecasters; a subclass names its weather and feature
    columns and may add features (``_extra``) and hours forced to 0 kW (``_zero``)."""

    quantiles: tuple[float, ...]
    timezone: str
    _model: _QuantileModel | None

    def _weather(self) -> list[str]:
        raise NotImplementedError

    def _columns(self) -> list[str]:
        raise NotImplementedError

    def _extra(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame

    def _zero(self, frame: pl.DataFrame) -> np.ndarray | None:
        return None

    def fit(self, history: pl.DataFrame, weather: pl.DataFrame | None = None):
        """Fit on ``history`` (utc_hour, value) and the weather of those hours; returns the forecaster."""
        history = hourly(history)
        frame = self._extra(features(history, history, pl.col("local_date"), self.timezone, weather,
                                     self._weather()))
        self._model = _QuantileModel(tuple(self.quantiles), self._columns(), self.timezone)
        self._model.train(frame.join(history, on="utc_hour", how="left"), history)
        return self

    def predict(self, at: datetime, horizon_h: int = 24, history: pl.DataFrame | None = None,
                weather: pl.DataFrame | None = None) -> Forecast:
        """Hours [at, at + horizon_h); lags from ``history`` (default: the fitted one) on the days before
        ``at``'s day; ``weather`` must cover the forecast hours."""
        if self._model is None:
            raise ValueError("predict: fit the forecaster first")
        past = before_day(hourly(history) if history is not None else self._model._history, at, self.timezone)
        frame = self._extra(features(forecast_hours(at, horizon_h), past, origin_day(at, self.timezone),
                                     self.timezone, weather, self._weather()))
        return self._model.forecast(at, frame, zero=self._zero(frame))


@dataclass
class LoadForecaster(_Learned):
    """Base load (kW) from calendar (local hour, weekday), lags and, when given, temperature (LightGBM)."""

    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    use_temperature: bool = True
    timezone: str = "Europe/Berlin"
    _model: _QuantileModel | None = field(default=None, repr=False)

    def _weather(self) -> list[str]:
        return ["temperature_c"] if self.use_temperature else []

    def _columns(self) -> list[str]:
        return ["hour", "dow", *LAGS, *self._weather()]


@dataclass
class PVForecaster(_Learned):
    """PV (kW) from the hour's direct and diffuse horizontal irradiance through plane-of-array features
    (pvlib: sun position, POA of three orientations, clear-sky GHI) and lags (LightGBM); 0 kW
    whenever the sun is below the horizon."""

    latitude_deg: float = 47.66
    longitude_deg: float = 9.18
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    timezone: str = "Europe/Berlin"
    _model: _QuantileModel | None = field(default=None, repr=False)

    def _weather(self) -> list[str]:
        return ["direct_wm2", "diffuse_wm2"]

    def _columns(self) -> list[str]:
        return ["hour", "doy", "elevation", "clearsky_wm2", "direct_wm2", "diffuse_wm2", *ORIENTATIONS, *LAGS]

    def _zero(self, frame: pl.DataFrame) -> np.ndarray:
        return frame["elevation"].to_numpy() <= 0

    def _extra(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Sun elevation, clear-sky GHI and the plane-of-array irradiance of each orientation (W/m2)."""
        import pandas as pd
        import pvlib

        times = pd.DatetimeIndex(frame["utc_hour"].to_numpy()).tz_localize("UTC") + pd.Timedelta(minutes=30)
        sun = pvlib.solarposition.get_solarposition(times, self.latitude_deg, self.longitude_deg)
        zenith, azimuth = sun["apparent_zenith"].to_numpy(), sun["azimuth"].to_numpy()
        direct = frame["direct_wm2"].fill_null(0.0).to_numpy()
        diffuse = frame["diffuse_wm2"].fill_null(0.0).to_numpy()
        cosz = np.cos(np.radians(zenith))
        dni = np.where(cosz > 0.05, direct / np.maximum(cosz, 0.05), 0.0)
        out = {"elevation": 90.0 - zenith,
               "clearsky_wm2": pvlib.clearsky.haurwitz(pd.Series(zenith, index=times))["ghi"].to_numpy()}
        for name, (tilt, facing) in ORIENTATIONS.items():
            poa = pvlib.irradiance.get_total_irradiance(tilt, facing, zenith, azimuth, dni, direct + diffuse, diffuse)
            out[name] = np.nan_to_num(np.asarray(poa["poa_global"], float))
        return frame.with_columns([pl.Series(k, v) for k, v in out.items()])
