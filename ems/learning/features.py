"""Features for the usage predictor, built only from data before the day predicted.

Daily rows (one per device and learnable local day d), label ``used`` = an
event (run) starts on d:
  dow, weekend, holiday (Baden-Wuerttemberg), used_7d / energy_7d (events and
  kWh on d-7..d-1), days_since_use (days since the last used day before d, capped),
  prev_hour_sin / prev_hour_cos (circular mean of d-1's usage hours; 0 if none),
  temp_mean (the day's mean temperature: the weather data stands in for a forecast).
Hourly rows (one per used day and local hour h), label = the device ran in h:
  hour, dow, weekend (categorical), holiday, temp (that hour), plus the day's lag features.
Days whose meter is not learnable count as unused in the rolling lags.
"""

from __future__ import annotations

from datetime import date

import holidays
import numpy as np
import polars as pl

from ems.learning.usage import Usage

DAILY = ["dow", "weekend", "holiday", "used_7d", "energy_7d", "days_since_use", "prev_hour_sin", "prev_hour_cos",
         "temp_mean"]
HOURLY = ["hour", "dow", "weekend", "holiday", "temp", "used_7d", "energy_7d", "days_since_use", "prev_hour_sin",
          "prev_hour_cos"]
CATEGORICAL = ["hour", "dow", "weekend"]
MAX_DAYS_SINCE = 60


def daily_frame(usage: Usage, device: str, weather: pl.DataFrame, first: date, last: date,
                only_learnable: bool = True) -> pl.DataFrame:
    """Daily feature rows of ``device`` for its learnable days in [first, last] (label ``used``);
    ``only_learnable=False`` keeps every day (to predict a day not yet observed)."""
    events = usage.events.filter(pl.col("device") == device)
    per_day = events.group_by("local_date").agg(n=pl.len(), kwh=pl.col("energy_kwh").sum())
    hours = usage.used.filter(pl.col("device") == device).group_by("local_date").agg(
        sin=(pl.col("local_hour") * 2 * np.pi / 24).sin().mean(), cos=(pl.col("local_hour") * 2 * np.pi / 24).cos().mean())
    calendar = pl.DataFrame({"local_date": pl.date_range(first, last, "1d", eager=True)})
    frame = (calendar.join(per_day, on="local_date", how="left").join(hours, on="local_date", how="left")
             .with_columns(pl.col("n", "kwh", "sin", "cos").fill_null(0)).sort("local_date"))
    used_day = pl.when(pl.col("n") > 0).then(pl.col("local_date"))
    frame = frame.with_columns(
        used=(pl.col("n") > 0).cast(pl.Int8),
        used_7d=(pl.col("n") > 0).cast(pl.Int32).shift(1).rolling_sum(7, min_samples=1).fill_null(0),
        energy_7d=pl.col("kwh").shift(1).rolling_sum(7, min_samples=1).fill_null(0.0),
        last_use=used_day.shift(1).forward_fill(),
        prev_hour_sin=pl.col("sin").shift(1).fill_null(0.0),
        prev_hour_cos=pl.col("cos").shift(1).fill_null(0.0),
    ).with_columns(
        days_since_use=(pl.col("local_date") - pl.col("last_use")).dt.total_days().fill_null(MAX_DAYS_SINCE)
        .clip(upper_bound=MAX_DAYS_SINCE),
    )
    frame = _calendar_features(frame).join(
        weather.group_by("local_date").agg(temp_mean=pl.col("temperature_c").mean()), on="local_date", how="left")
    if only_learnable:
        learnable = sorted(usage.learnable_days.get(device, set()))
        frame = frame.filter(pl.col("local_date").is_in(learnable))
    return frame.select("local_date", *DAILY, "used")


def hourly_frame(daily: pl.DataFrame, usage: Usage, device: str, weather: pl.DataFrame,
                 starts: bool = False) -> pl.DataFrame:
    """Hourly feature rows for the used days of ``daily``; label ``used``: the device ran in that hour,
    or, with ``starts``, a run of it started in that hour (what a discrete-phase device's plan schedules)."""
    days = daily.filter(pl.col("used") == 1).drop("used", "temp_mean")
    grid = days.join(pl.DataFrame({"hour": list(range(24))}, schema={"hour": pl.Int8}), how="cross")
    source = usage.events.select("device", "local_date", local_hour="start_hour") if starts else usage.used
    used = source.filter(pl.col("device") == device).select(
        "local_date", pl.col("local_hour").cast(pl.Int8).alias("hour"), pl.lit(1, pl.Int8).alias("used"))
    temps = weather.group_by("local_date", pl.col("local_hour").cast(pl.Int8).alias("hour")).agg(
        temp=pl.col("temperature_c").mean())
    return (grid.join(used.unique(), on=["local_date", "hour"], how="left").with_columns(pl.col("used").fill_null(0))
            .join(temps, on=["local_date", "hour"], how="left").sort("local_date", "hour")
            .select("local_date", *HOURLY, "used"))


def weather_frame(store, first: date, last: date, region: str = "DE") -> pl.DataFrame:
    """Hourly temperature (deg C) and horizontal direct / diffuse irradiance (W/m2) with local_date and local_hour."""
    frame = store.query("SELECT utc_hour, local_date, temperature_c, direct_wm2, diffuse_wm2 FROM weather "
                        "WHERE region = ? AND local_date BETWEEN ? AND ?", [region, first, last])
    local = pl.col("utc_hour").dt.replace_time_zone("UTC").dt.convert_time_zone(store.timezone)
    return frame.with_columns(local_hour=local.dt.hour())


def _calendar_features(frame: pl.DataFrame) -> pl.DataFrame:
    years = range(frame["local_date"].min().year, frame["local_date"].max().year + 1)
    bw = holidays.country_holidays("DE", subdiv="BW", years=years)
    return frame.with_columns(
        dow=(pl.col("local_date").dt.weekday() - 1).cast(pl.Int8),
        weekend=(pl.col("local_date").dt.weekday() >= 6).cast(pl.Int8),
        holiday=pl.col("local_date").is_in(list(bw)).cast(pl.Int8),
    )
