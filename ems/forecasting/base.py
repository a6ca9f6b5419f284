"""What every forecaster shares: the forecast record, the refusal of future data, calendar and lag features.

Lag features are taken relative to the forecast's *origin day* (the local day
of the forecast time ``at``): the same local hour on the last full day before
it, and the mean of that hour over the seven days before it. A training row
is its own day's hour with its own day as origin, so training and prediction
see the same features; an hour further ahead (a 36 h horizon) keeps its
origin's lags, which are then older than in training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

#: Lag features: the same local hour 1 day before the origin day, and its mean over the 7 days before.
LAG_DAYS = 7
LAGS = ["lag_1d", "lag_7d_mean"]


class FutureDataError(ValueError):
    """A forecaster was asked to use data at or after its forecast time."""


@dataclass
class Forecast:
    """Hourly forecast from ``at``: ``utc_hour`` (naive UTC), ``point`` (kW) and, per quantile
    level, ``quantiles[q]`` (kW, non-decreasing in q)."""

    at: datetime
    utc_hour: np.ndarray
    point: np.ndarray
    quantiles: dict[float, np.ndarray] = field(default_factory=dict)


def hourly(values: pl.DataFrame, where: str = "history") -> pl.DataFrame:
    """``values`` checked: columns utc_hour (naive datetime) and value (finite numbers or null)."""
    if not isinstance(values, pl.DataFrame) or not {"utc_hour", "value"} <= set(values.columns):
        raise ValueError(f"{where}: expected a polars frame with columns utc_hour (naive UTC) and value (kW)")
    dtype = values.schema["utc_hour"]
    if not isinstance(dtype, pl.Datetime) or dtype.time_zone is not None:
        raise ValueError(f"{where}.utc_hour: expected naive UTC datetimes (no time zone), got {dtype}")
    return values.select(pl.col("utc_hour").cast(pl.Datetime("us")), pl.col("value").cast(pl.Float64)).sort("utc_hour")


def forecast_hours(at: datetime, horizon_h: int) -> pl.DataFrame:
    """The forecast's hours [at, at + horizon_h) (``at`` on the hour, naive UTC)."""
    if at.minute or at.second or at.microsecond:
        raise ValueError(f"at={at}: a forecast starts on a whole hour")
    if not 1 <= horizon_h <= 24 * 14:
        raise ValueError(f"horizon_h={horizon_h}: must be in [1, 336]")
    return pl.DataFrame({"utc_hour": [at + timedelta(hours=h) for h in range(horizon_h)]}).with_columns(
        pl.col("utc_hour").cast(pl.Datetime("us")))


def with_local(frame: pl.DataFrame, timezone: str) -> pl.DataFrame:
    local = pl.col("utc_hour").dt.replace_time_zone("UTC").dt.convert_time_zone(timezone)
    return frame.with_columns(local_date=local.dt.date(), hour=local.dt.hour().cast(pl.Int32),
                              dow=local.dt.weekday().cast(pl.Int32), doy=local.dt.ordinal_day().cast(pl.Int32))


def lag_table(history: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """Per (local_date, hour): the lag features of an origin day ``local_date`` from the days before it."""
    by_hour = with_local(history, timezone).group_by("local_date", "hour", maintain_order=True).agg(
        pl.col("value").mean())
    if by_hour.is_empty():
        return pl.DataFrame(schema={"local_date": pl.Date, "hour": pl.Int32, **{k: pl.Float64 for k in LAGS}})
    days = pl.date_range(by_hour["local_date"].min(), by_hour["local_date"].max() + timedelta(days=1), "1d",
                         eager=True)
    grid = pl.DataFrame({"local_date": days}).join(pl.DataFrame({"hour": list(range(24))}, schema={"hour": pl.Int32}),
                                                   how="cross")
    full = grid.join(by_hour, on=["local_date", "hour"], how="left").sort("hour", "local_date")
    return full.with_columns(
        lag_1d=pl.col("value").shift(1).over("hour"),
        lag_7d_mean=pl.col("value").shift(1).rolling_mean(LAG_DAYS, min_samples=1).over("hour"),
    ).select("local_date", "hour", *LAGS)


def features(hours: pl.DataFrame, history: pl.DataFrame, origin: pl.Expr | object, timezone: str,
             weather: pl.DataFrame | None, weather_columns: list[str]) -> pl.DataFrame:
    """Calendar, lag (from ``history`` before each row's origin day) and weather columns of ``hours``.

    ``origin``: a column expression giving each row's origin day (training: the row's own day) or
    one date (prediction: the forecast day).
    """
    frame = with_local(hours, timezone)
    frame = frame.with_columns(origin=origin if isinstance(origin, pl.Expr) else pl.lit(origin))
    lags = lag_table(history, timezone).rename({"local_date": "origin"})
    frame = frame.join(lags, on=["origin", "hour"], how="left")
    if weather_columns:
        if weather is None or not set(weather_columns) <= set(weather.columns):
            raise ValueError(f"weather: needs columns utc_hour, {', '.join(weather_columns)} for the forecast hours")
        frame = frame.join(weather.select(pl.col("utc_hour").cast(pl.Datetime("us")), *weather_columns),
                           on="utc_hour", how="left")
    return frame.sort("utc_hour")


def origin_day(at: datetime, timezone: str) -> date:
    """The local day of the forecast time ``at`` (naive UTC)."""
    return with_local(pl.DataFrame({"utc_hour": [at]}).with_columns(pl.col("utc_hour").cast(pl.Datetime("us"))),
                      timezone)["local_date"][0]


def before_day(history: pl.DataFrame, at: datetime, timezone: str, days: int = LAG_DAYS) -> pl.DataFrame:
    """The rows of ``history`` on the ``days`` full local days before ``at``'s day (nothing at or after
    ``at``, and nothing older than a forecast made at ``at`` reads)."""
    day = origin_day(at, timezone)
    recent = history.filter(pl.col("utc_hour") >= at - timedelta(days=days + 2))  # + the UTC/local offset
    return with_local(recent, timezone).filter(
        (pl.col("local_date") < day) & (pl.col("local_date") >= day - timedelta(days=days))).select("utc_hour", "value")
