"""The three OPSD household layouts and the cleaning rules, on rows cut from the real files."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl
import pytest

from ems.data.cleaning import CleaningConfig, clean_household
from ems.data.errors import DataError
from ems.data.layouts import read_any
from ems.data.quality import Quality

from conftest import DATA, LEGACY_FIXTURE

WINDOW = ("2016-06-16T00:00:00Z", "2016-06-19T00:00:00Z")


def clean(source, data_cfg, **overrides):
    cfg = CleaningConfig(**{**dict(data_cfg.cleaning), **overrides})
    return clean_household(source, cfg, dict(data_cfg.flex_models), data_cfg.timezone,
                           data_cfg.site.latitude_deg, data_cfg.site.longitude_deg)


def flagged(frame: pl.DataFrame, device: str, flag: Quality) -> list[datetime]:
    return frame.filter(pl.col("device") == device, (pl.col("flags") & int(flag)) != 0)["utc_hour"].to_list()


def cut(building: int, first: str = WINDOW[0], last: str = WINDOW[1]) -> pl.DataFrame:
    """Rows [first, last) of a shipped per-building file, every cell as text."""
    raw = pl.read_csv(DATA / f"cossmic_residential{building}_60min.csv.gz", infer_schema_length=0)
    return raw.filter(pl.col("utc_timestamp") >= first, pl.col("utc_timestamp") < last)


def test_legacy_layout_with_crlf_and_interpolated_values(data_cfg):
    source = read_any(LEGACY_FIXTURE)
    assert source.layout == "opsd_legacy"
    assert {d for _, d in source.meters.values()} == {
        "dishwasher", "ev", "freezer", "grid_export", "grid_import", "heat_pump", "pv", "refrigerator",
        "washing_machine"}
    readings = clean(source, data_cfg)
    # The only heat_pump marker is the reading at 2015-10-25T02:00Z: it bounds hours 01:00Z and 02:00Z.
    assert flagged(readings, "heat_pump", Quality.INTERPOLATED) == [datetime(2015, 10, 25, 1), datetime(2015, 10, 25, 2)]
    marked = readings.filter((pl.col("flags") & int(Quality.INTERPOLATED)) != 0)
    assert not marked["learnable"].any() and marked["valid"].all()
    # The autumn DST day 2015-10-25 has 25 hours.
    day = readings.filter(pl.col("device") == "heat_pump", pl.col("local_date") == datetime(2015, 10, 25).date())
    assert day.height == 25


def test_extract_layout_drops_the_identical_duplicate_column(data_cfg, tmp_path):
    path = tmp_path / "extract.csv"
    cut(4).write_csv(path)
    source = read_any(path)
    assert source.layout == "opsd_extract"
    assert source.dropped_duplicates == ["DE_KN_residential4_pv.1"]
    assert "pv.1" not in {d for _, d in source.meters.values()}
    # A ".1" copy whose values differ is not silently dropped (built: one real cell changed).
    changed = cut(4).with_columns(pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("999.0"))
                                  .otherwise(pl.col("DE_KN_residential4_pv.1")).alias("DE_KN_residential4_pv.1"))
    changed.write_csv(path)
    with pytest.raises(DataError, match="DE_KN_residential4_pv.1 is a second copy of DE_KN_residential4_pv"):
        read_any(path)


def test_full_layout_with_all_buildings_and_interpolated_marker(data_cfg, tmp_path):
    """Built for the full-file header: the six real extracts joined into one
    2020-04-15-style table with cet_cest_timestamp and an `interpolated` column
    that marks one residential4 reading (to check the marker is honoured)."""
    wide = cut(1)
    for building in range(2, 7):
        wide = wide.join(cut(building), on="utc_timestamp", how="full", coalesce=True)
    wide = wide.drop("DE_KN_residential4_pv.1").sort("utc_timestamp")
    utc = wide["utc_timestamp"].str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
    local = utc.dt.convert_time_zone("Europe/Berlin").dt.strftime("%Y-%m-%dT%H%M%S%z")
    marker = pl.when(pl.col("utc_timestamp") == "2016-06-17T12:00:00Z").then(
        pl.lit("DE_KN_residential4_grid_import|DE_KN_residential4_pv")).otherwise(None)
    full = wide.with_columns(cet_cest_timestamp=local, interpolated=marker)
    full = full.select("utc_timestamp", "cet_cest_timestamp", *sorted(c for c in wide.columns if c.startswith("DE_")),
                       "interpolated")
    path = tmp_path / "household_data_60min_singleindex.csv"
    full.write_csv(path)
    source = read_any(path)
    assert source.layout == "opsd_full"
    assert sorted({b for b, _ in source.meters.values()}) == [f"residential{i}" for i in range(1, 7)]
    readings = clean(source, data_cfg)
    assert flagged(readings, "grid_import", Quality.INTERPOLATED) == [datetime(2016, 6, 17, 11), datetime(2016, 6, 17, 12)]
    # Same energies as the per-building extract of the same release.
    alone = clean(read_any(DATA / "cossmic_residential5_60min.csv.gz"), data_cfg)
    # (The cut's last hour has no next reading in the joined file, so it is compared up to the hour before.)
    joined = readings.filter(pl.col("building") == "residential5", pl.col("utc_hour") < datetime(2016, 6, 18, 23))
    joined = joined.select("device", "utc_hour", "energy_kwh")
    reference = alone.join(joined.select("device", "utc_hour"), on=["device", "utc_hour"]).select(joined.columns)
    assert joined.sort("device", "utc_hour").equals(reference.sort("device", "utc_hour"))


def test_meter_reset_is_never_negative_energy(data_cfg, tmp_path):
    """Built: residential5's real grid_import meter restarted from zero at 2016-06-17T06:00Z (a meter swap)."""
    frame = cut(5).with_columns(pl.col("DE_KN_residential5_grid_import").cast(pl.Float64))
    base = frame.filter(pl.col("utc_timestamp") == "2016-06-17T06:00:00Z")["DE_KN_residential5_grid_import"][0]
    swapped = frame.with_columns(
        pl.when(pl.col("utc_timestamp") >= "2016-06-17T06:00:00Z")
        .then((pl.col("DE_KN_residential5_grid_import") - base).round(3))
        .otherwise(pl.col("DE_KN_residential5_grid_import")).alias("DE_KN_residential5_grid_import"))
    path = tmp_path / "reset.csv"
    swapped.write_csv(path)
    readings = clean(read_any(path), data_cfg).filter(pl.col("device") == "grid_import")
    assert flagged(readings, "grid_import", Quality.RESET) == [datetime(2016, 6, 17, 5)]
    assert readings.filter(pl.col("utc_hour") == datetime(2016, 6, 17, 5))["energy_kwh"][0] is None
    assert readings["energy_kwh"].min() >= 0


def test_short_gaps_are_filled_and_long_gaps_make_days_unlearnable(data_cfg, tmp_path):
    """Built: two real readings blanked (a short gap) and 30 blanked (a long gap) in residential6's dishwasher."""
    frame = cut(6, "2016-06-10T00:00:00Z", "2016-06-25T00:00:00Z")
    column = "DE_KN_residential6_dishwasher"
    ts = pl.col("utc_timestamp")
    short = ts.is_in(["2016-06-12T10:00:00Z", "2016-06-12T11:00:00Z"])
    long = (ts >= "2016-06-20T00:00:00Z") & (ts < "2016-06-21T06:00:00Z")
    holed = frame.with_columns(pl.when(short | long).then(None).otherwise(pl.col(column)).alias(column))
    path = tmp_path / "gaps.csv"
    holed.write_csv(path)
    readings = clean(read_any(path), data_cfg, max_fill_hours=3, long_gap_hours=24).filter(pl.col("device") == "dishwasher")
    filled = flagged(readings, "dishwasher", Quality.FILLED)
    assert filled == [datetime(2016, 6, 12, h) for h in (9, 10, 11)]
    # Linear filling conserves the energy between the readings that bound the gap.
    original = clean(read_any(DATA / "cossmic_residential6_60min.csv.gz"), data_cfg).filter(
        pl.col("device") == "dishwasher", pl.col("utc_hour").is_between(datetime(2016, 6, 12, 9), datetime(2016, 6, 12, 11)))
    assert readings.filter(pl.col("utc_hour").is_in(filled))["energy_kwh"].sum() == pytest.approx(
        original["energy_kwh"].sum(), abs=1e-6)
    # The 30-hour gap stays missing (never zero) and its local days are not learnable.
    gap = readings.filter(pl.col("utc_hour").is_between(datetime(2016, 6, 20), datetime(2016, 6, 21, 4)))
    assert gap["energy_kwh"].null_count() == gap.height
    days = readings.filter((pl.col("flags") & int(Quality.LONG_GAP)) != 0)["local_date"].unique().sort().to_list()
    # Local days (Europe/Berlin, UTC+2): the gap runs from 02:00 on 06-20 to 08:00 on 06-21.
    assert [str(d) for d in days] == ["2016-06-20", "2016-06-21"]
    assert not readings.filter(pl.col("local_date").cast(pl.String).is_in(["2016-06-20"]))["learnable"].any()


@pytest.mark.parametrize(
    "content, message",
    [
        ("time,DE_KN_residential1_pv\n2016-01-01T00:00:00Z,1\n", "no utc_timestamp column"),
        ("utc_timestamp,DE_KN_residential1_pv\n2016-01-01 00:00,1\n",
         "utc_timestamp '2016-01-01 00:00' in data row 1 is not of the form 2016-01-01T00:00:00Z"),
        ("utc_timestamp,DE_KN_residential1_pv\n2016-01-01T00:00:00Z,1\n2016-01-01T00:15:00Z,2\n",
         "timestamps are not on whole hours"),
        ("utc_timestamp,DE_KN_residential1_pv\n2016-01-01T01:00:00Z,1\n2016-01-01T00:00:00Z,2\n",
         "is not after the row before"),
        ("utc_timestamp,DE_KN_residential1_pv\n2016-01-01T00:00:00Z,NaN\n", "is not finite"),
        ("utc_timestamp,foo\n2016-01-01T00:00:00Z,1\n", "matches no known layout"),
    ],
)
def test_bad_files_fail_with_one_line_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError) as err:
        read_any(path)
    text = str(err.value)
    assert text.startswith(str(path)) and "\n" not in text
    assert message in text


def test_iqr_outliers_are_flagged_but_kept(data_cfg):
    """residential6's washing machine: hours above Q3 + 3 IQR of its active hours, computed here independently."""
    raw = pl.read_csv(DATA / "cossmic_residential6_60min.csv.gz")
    meter = raw["DE_KN_residential6_washing_machine"]
    energy = (meter.shift(-1) - meter).round(3)
    hours = raw["utc_timestamp"].str.to_datetime("%Y-%m-%dT%H:%M:%SZ")
    active = energy.filter(energy > data_cfg.cleaning.active_kwh).to_numpy()
    q1, q3 = np.quantile(active, [0.25, 0.75])
    expected = hours.filter(energy > q3 + data_cfg.cleaning.iqr_k * (q3 - q1)).to_list()
    readings = clean(read_any(DATA / "cossmic_residential6_60min.csv.gz"), data_cfg)
    outliers = readings.filter(pl.col("device") == "washing_machine", (pl.col("flags") & int(Quality.OUTLIER)) != 0)
    assert len(expected) > 0
    assert outliers["utc_hour"].to_list() == expected
    assert outliers["valid"].all() and outliers["energy_kwh"].null_count() == 0
