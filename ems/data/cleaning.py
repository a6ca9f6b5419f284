"""Cumulative meter readings to hourly energy, with every fault flagged.

Convention: the energy of hour t (UTC, [t, t+1h)) is ``meter[t+1] - meter[t]``
in kWh. Empty cells are missing, never zero. Each step below is vectorised
over all meters of a file at once (Polars window expressions over ``column``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ems.data.calendar import with_local_date
from ems.data.layouts import HouseholdFile
from ems.data.quality import NOT_LEARNABLE, NOT_VALID, Quality
from ems.data.solar import night_hours

log = logging.getLogger(__name__)

M = ["column"]  # window: one meter


@dataclass
class CleaningConfig:
    """Cleaning knobs; see ``conf/data/default.yaml`` for what each one means."""

    max_fill_hours: int = 3
    long_gap_hours: int = 24
    meter_decimals: int = 3
    iqr_k: float = 3.0
    active_kwh: float = 0.05
    ramp_min_hours: int = 6
    ramp_min_kwh: float = 0.05
    ramp_flex_models: tuple[str, ...] = ("discrete_phase", "generation", "grid")
    night_sun_elevation_deg: float = -6.0
    night_pv_max_kwh: float = 0.01
    max_step_kwh: dict[str, float] = field(default_factory=lambda: {"default": 5.0})


def lookup_by_device(table: dict[str, object], device: str, default: object) -> object:
    """``table[device]``, else ``table`` of the name without its last ``_suffix`` (pv_roof -> pv)."""
    name = device
    while name:
        if name in table:
            return table[name]
        name = name.rpartition("_")[0]
    return default


def clean_household(
    source: HouseholdFile,
    cfg: CleaningConfig,
    flex_models: dict[str, str],
    timezone: str,
    latitude_deg: float,
    longitude_deg: float,
) -> pl.DataFrame:
    """Long, flagged hourly energy for every meter of ``source``.

    Returns columns building, device, flex_model, utc_hour (naive UTC), local_date
    (``timezone`` calendar day of the hour's start), meter_kwh, energy_kwh
    (NULL where unknown), flags (:class:`Quality` bits), valid, learnable.
    """
    wide = source.wide.sort("utc_hour").upsample(time_column="utc_hour", every="1h")
    night = night_hours(wide["utc_hour"].to_numpy(), latitude_deg, longitude_deg, cfg.night_sun_elevation_deg)
    wide = wide.with_columns(night=pl.Series(night))
    meta = _meter_meta(source, cfg, flex_models)
    long = (
        wide.unpivot(index=["utc_hour", "night"], variable_name="column", value_name="raw_kwh")
        .join(meta, on="column", how="left")
        .sort("column", "utc_hour")
    )
    long = _inside_span(long)
    long = _fill_short_gaps(long, cfg)
    long = _energy(long, cfg, source)
    long = _flag_ramps(long, cfg)
    long = _flag_outliers(long, cfg)
    long = with_local_date(long, timezone)
    long = _flag_long_gap_days(long, cfg)
    return long.select(
        "building",
        "device",
        "flex_model",
        "utc_hour",
        "local_date",
        pl.col("meter_kwh"),
        pl.col("energy_kwh"),
        pl.col("flags").cast(pl.UInt16),
        ((pl.col("flags") & int(NOT_VALID)) == 0).alias("valid"),
        ((pl.col("flags") & int(NOT_LEARNABLE)) == 0).alias("learnable"),
    )


def _meter_meta(source: HouseholdFile, cfg: CleaningConfig, flex_models: dict[str, str]) -> pl.DataFrame:
    rows = [
        {
            "column": column,
            "building": building,
            "device": device,
            "flex_model": lookup_by_device(flex_models, device, "none"),
            "cap_kwh": float(lookup_by_device(cfg.max_step_kwh, device, cfg.max_step_kwh["default"])),
        }
        for column, (building, device) in source.meters.items()
    ]
    return pl.DataFrame(rows, schema={"column": pl.String, "building": pl.String, "device": pl.String,
                                      "flex_model": pl.String, "cap_kwh": pl.Float64})


def _inside_span(long: pl.DataFrame) -> pl.DataFrame:
    """Keep each meter's hours from its first to its last reading (empty edges are no data)."""
    has = pl.col("raw_kwh").is_not_null()
    first = pl.col("utc_hour").filter(has).min().over(M)
    last = pl.col("utc_hour").filter(has).max().over(M)
    return long.filter(pl.col("utc_hour").is_between(first, last))


def _fill_short_gaps(long: pl.DataFrame, cfg: CleaningConfig) -> pl.DataFrame:
    """Interpolate meter gaps up to ``max_fill_hours``; longer gaps stay NULL."""
    missing = pl.col("raw_kwh").is_null()
    long = long.with_columns(gap_run=missing.rle_id().over(M))
    long = long.with_columns(
        gap_hours=pl.when(missing).then(pl.len().over("column", "gap_run")).otherwise(0),
    )
    fillable = missing & (pl.col("gap_hours") <= cfg.max_fill_hours)
    return long.with_columns(
        meter_kwh=pl.when(fillable).then(pl.col("raw_kwh").interpolate().over(M)).otherwise(pl.col("raw_kwh")),
        filled_point=fillable,
    )


def _energy(long: pl.DataFrame, cfg: CleaningConfig, source: HouseholdFile) -> pl.DataFrame:
    """Difference the meter and flag MISSING, FILLED, INTERPOLATED, RESET and IMPOSSIBLE."""
    step = (pl.col("meter_kwh").shift(-1).over(M) - pl.col("meter_kwh")).round(cfg.meter_decimals)
    marked = _marked_points(long, source)
    long = long.join(marked, on=["column", "utc_hour"], how="left").with_columns(
        pl.col("marked").fill_null(False)
    )
    both = lambda c: pl.col(c) | pl.col(c).shift(-1).over(M).fill_null(False)  # noqa: E731
    long = long.with_columns(step=step, filled_hour=both("filled_point"), marked_hour=both("marked"))
    night_pv = (pl.col("flex_model") == "generation") & pl.col("night") & (pl.col("step") > cfg.night_pv_max_kwh)
    impossible = (pl.col("step") > pl.col("cap_kwh")) | night_pv
    flags = (
        pl.when(pl.col("step").is_null()).then(int(Quality.MISSING)).otherwise(0)
        | pl.when(pl.col("filled_hour")).then(int(Quality.FILLED)).otherwise(0)
        | pl.when(pl.col("marked_hour")).then(int(Quality.INTERPOLATED)).otherwise(0)
        | pl.when(pl.col("step") < 0).then(int(Quality.RESET)).otherwise(0)
        | pl.when(impossible).then(int(Quality.IMPOSSIBLE)).otherwise(0)
    )
    long = long.with_columns(flags=flags.cast(pl.Int32))
    bad = (pl.col("flags") & int(Quality.RESET | Quality.IMPOSSIBLE)) != 0
    return long.with_columns(energy_kwh=pl.when(bad).then(None).otherwise(pl.col("step")))


def _marked_points(long: pl.DataFrame, source: HouseholdFile) -> pl.DataFrame:
    schema = {"column": pl.String, "utc_hour": long.schema["utc_hour"], "marked": pl.Boolean}
    if source.interpolated is None or source.interpolated.is_empty():
        return pl.DataFrame(schema=schema)
    return source.interpolated.select("column", "utc_hour", marked=pl.lit(True)).unique().cast(schema)


def _flag_ramps(long: pl.DataFrame, cfg: CleaningConfig) -> pl.DataFrame:
    """Flag runs of >= ramp_min_hours equal positive steps (within the meter resolution).

    Only for flex models whose real consumption is never flat for hours
    (appliance cycles, PV, the grid connection); pumps and EV charging can be.
    """
    tolerance = 10.0 ** -cfg.meter_decimals + 1e-9
    energy = pl.col("energy_kwh")
    breaks = (energy - energy.shift(1).over(M)).abs().fill_null(np.inf) > tolerance
    long = long.with_columns(ramp_run=breaks.cast(pl.Int32).cum_sum().over(M))
    run_len = pl.len().over("column", "ramp_run")
    run_min = energy.min().over("column", "ramp_run")
    ramp = (
        (run_len >= cfg.ramp_min_hours)
        & (run_min >= cfg.ramp_min_kwh)
        & energy.is_not_null()
        & pl.col("flex_model").is_in(list(cfg.ramp_flex_models))
    )
    return long.with_columns(flags=pl.col("flags") | pl.when(ramp).then(int(Quality.RAMP)).otherwise(0))


def _flag_outliers(long: pl.DataFrame, cfg: CleaningConfig) -> pl.DataFrame:
    """Flag hours above Q3 + k*IQR of the device's active (> active_kwh) valid hours."""
    active = pl.col("energy_kwh").filter(pl.col("energy_kwh") > cfg.active_kwh)
    q1 = active.quantile(0.25, interpolation="linear").over(M)
    q3 = active.quantile(0.75, interpolation="linear").over(M)
    outlier = pl.col("energy_kwh") > q3 + cfg.iqr_k * (q3 - q1)
    return long.with_columns(
        flags=pl.col("flags") | pl.when(outlier.fill_null(False)).then(int(Quality.OUTLIER)).otherwise(0)
    )


def _flag_long_gap_days(long: pl.DataFrame, cfg: CleaningConfig) -> pl.DataFrame:
    """Mark LONG_GAP on every hour of the local days a gap > long_gap_hours touches."""
    in_long_gap = pl.col("gap_hours") > cfg.long_gap_hours
    day_has_gap = in_long_gap.any().over("column", "local_date")
    return long.with_columns(
        flags=pl.col("flags") | pl.when(day_has_gap).then(int(Quality.LONG_GAP)).otherwise(0)
    )
