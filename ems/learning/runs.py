"""Usage events: the runs of each flexible device, found in its hourly meter readings.

Rule (per device): an hour is *active* when its energy exceeds the device's
threshold ``max(floor_kwh, ratio x m)``, where m is the energy-weighted median
of its learnable hourly energies (the hourly energy below which half of the
device's energy is used). Weighting by energy makes m the level of real
operation even when standby hours are far more numerous; the floor removes
standby, the ratio admits a cycle's low phases. A run is a maximal stretch of consecutive active hours. Runs that
touch an hour that is not learnable (missing, filled, OPSD-interpolated,
ramp, long gap) are dropped: a linear fill hides when a device really ran.
Times: ``start_utc`` (naive UTC), ``local_date``/``start_hour`` in the
Europe/Berlin calendar; ``day_type`` weekday/weekend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ems.data.calendar import with_local_date


@dataclass
class RunSettings:
    """Knobs of the run rule (``conf/learner``)."""

    floor_kwh: float = 0.02
    ratio: float = 0.2


def detect_runs(energy_kwh: np.ndarray, threshold_kwh: float) -> list[tuple[int, np.ndarray]]:
    """(start step, hourly profile) of every stretch of steps with energy > threshold."""
    active = np.nan_to_num(energy_kwh) > threshold_kwh
    edges = np.flatnonzero(np.diff(np.r_[0, active.astype(int), 0]))
    return [(int(a), energy_kwh[a:b].astype(float)) for a, b in zip(edges[::2], edges[1::2])]


def thresholds(readings: pl.DataFrame, settings: RunSettings) -> dict[str, float]:
    """Device -> active-hour threshold (kWh) from the distribution of its positive learnable hours."""
    above = readings.filter(pl.col("learnable"), pl.col("energy_kwh") > 0).sort("device", "energy_kwh")
    share = pl.col("energy_kwh").cum_sum().over("device") / pl.col("energy_kwh").sum().over("device")
    medians = above.with_columns(share=share).filter(pl.col("share") >= 0.5).group_by("device").agg(
        pl.col("energy_kwh").first())
    out = {d: max(settings.floor_kwh, settings.ratio * m) for d, m in medians.iter_rows()}
    return {d: out.get(d, settings.floor_kwh) for d in readings["device"].unique().to_list()}


def events(readings: pl.DataFrame, settings: RunSettings, timezone: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Usage events and hourly usage of each device.

    ``readings``: device, utc_hour, energy_kwh, learnable (one device's hours
    in UTC order). Returns (events: device, start_utc, local_date, start_hour,
    day_type, hours, energy_kwh, profile; usage: device, local_date,
    local_hour, used) where ``used`` marks the active hours of accepted runs.
    """
    if readings.is_empty():  # e.g. a training window before the building's first reading
        return (pl.DataFrame(schema={"device": pl.String, "start_utc": pl.Datetime("us"), "local_date": pl.Date,
                                     "start_hour": pl.Int8, "day_type": pl.String, "hours": pl.UInt32,
                                     "energy_kwh": pl.Float64, "profile": pl.List(pl.Float64)}),
                pl.DataFrame(schema={"device": pl.String, "local_date": pl.Date, "local_hour": pl.Int8,
                                     "used": pl.Boolean}))
    limit = thresholds(readings, settings)
    frame = with_local_date(readings.sort("device", "utc_hour"), timezone).with_columns(
        local_hour=pl.col("utc_hour").dt.replace_time_zone("UTC").dt.convert_time_zone(timezone).dt.hour(),
        active=(pl.col("energy_kwh") > pl.col("device").replace_strict(limit, return_dtype=pl.Float64)).fill_null(False),
    )
    gap = pl.col("utc_hour").diff().over("device") != pl.duration(hours=1)
    frame = frame.with_columns(run=(pl.col("active").ne(pl.col("active").shift(1).over("device")) | gap.fill_null(True))
                               .cum_sum().over("device"))
    runs = (
        frame.filter(pl.col("active"))
        .group_by("device", "run")
        .agg(start_utc=pl.col("utc_hour").first(), local_date=pl.col("local_date").first(),
             start_hour=pl.col("local_hour").first(), hours=pl.len(), energy_kwh=pl.col("energy_kwh").sum(),
             profile=pl.col("energy_kwh"), clean=pl.col("learnable").all())
    )
    # A run whose neighbouring hours are not learnable may be cut short: drop it too.
    edges = frame.with_columns(
        before=pl.col("learnable").shift(1).over("device").fill_null(False),
        after=pl.col("learnable").shift(-1).over("device").fill_null(False),
    ).filter(pl.col("active")).group_by("device", "run").agg(
        bounded=pl.col("before").first() & pl.col("after").last())
    runs = runs.join(edges, on=["device", "run"]).filter(pl.col("clean") & pl.col("bounded"))
    runs = runs.with_columns(day_type=pl.when(pl.col("local_date").dt.weekday() >= 6).then(pl.lit("weekend"))
                             .otherwise(pl.lit("weekday")))
    kept = runs.select("device", "run")
    usage = (frame.join(kept, on=["device", "run"]).filter(pl.col("active"))
             .select("device", "local_date", "local_hour").unique().with_columns(used=pl.lit(True)))
    cols = ["device", "start_utc", "local_date", "start_hour", "day_type", "hours", "energy_kwh", "profile"]
    return runs.select(cols).sort("device", "start_utc"), usage.sort("device", "local_date", "local_hour")
