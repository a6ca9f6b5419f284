"""Ingest of the shipped real data into a real DuckDB file."""

from __future__ import annotations

import hashlib
from datetime import date, datetime

import duckdb
import polars as pl
import pytest

from ems.data.errors import DataError
from ems.data.ingest import ingest
from ems.data.quality import Quality
from ems.data.store import Store

from conftest import DATA, LEGACY_FIXTURE


def q(db, sql, params=None):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_all_six_buildings_and_series_are_loaded(shipped_db):
    with Store(shipped_db) as store:
        assert store.buildings() == [f"residential{i}" for i in range(1, 7)]
        counts = store.table_counts()
    # Row counts from shared/data/README.md: prices 44,567 h, weather (with irradiance) 52,584 h.
    assert counts["prices"] == 44_567
    assert counts["weather"] == 52_584
    assert counts["devices"] == 39  # 6+5+8+9+4+7 meter columns, residential4's pv.1 duplicate dropped


@pytest.mark.parametrize(
    "device, first, last, hours",
    [  # first/last reading and reading count per meter, from shared/data/README.md section 4
        ("dishwasher", "2015-10-13 16:00", "2017-03-22 11:00", 12_620),
        ("ev", "2015-10-13 16:00", "2018-02-04 23:00", 20_288),
        ("grid_import", "2015-10-10 16:00", "2018-02-04 23:00", 20_360),
        ("heat_pump", "2015-10-10 16:00", "2017-03-06 14:00", 12_311),
        ("refrigerator", "2015-10-14 08:00", "2017-01-04 19:00", 10_764),
    ],
)
def test_meter_spans_match_the_source_and_empty_cells_are_not_zero(shipped_db, device, first, last, hours):
    row = q(shipped_db, "SELECT first_utc, last_utc, hours FROM devices WHERE building='residential4' AND device=?",
            [device])[0]
    assert row == (datetime.fromisoformat(first), datetime.fromisoformat(last), hours)
    # Outside the span there are no rows at all (empty cells are no data, not 0 kWh).
    outside = q(shipped_db, "SELECT count(*) FROM readings WHERE building='residential4' AND device=? "
                "AND (utc_hour < ? OR utc_hour > ?)", [device, first, last])[0][0]
    assert outside == 0


def test_energy_is_the_meter_difference_and_never_negative(shipped_db):
    assert q(shipped_db, "SELECT count(*) FROM readings WHERE energy_kwh < 0")[0][0] == 0
    # 2016-02-25T10:00Z residential4 dishwasher meter = 40.446 kWh (README); energy of that hour = next - this.
    raw = pl.read_csv(DATA / "cossmic_residential4_60min.csv.gz")
    pair = raw.filter(pl.col("utc_timestamp").is_in(["2016-02-25T10:00:00Z", "2016-02-25T11:00:00Z"]))
    expected = round(pair["DE_KN_residential4_dishwasher"][1] - pair["DE_KN_residential4_dishwasher"][0], 3)
    meter, energy = q(shipped_db, "SELECT meter_kwh, energy_kwh FROM readings WHERE building='residential4' "
                      "AND device='dishwasher' AND utc_hour='2016-02-25 10:00:00'")[0]
    assert meter == 40.446
    assert energy == pytest.approx(expected, abs=1e-9)


def test_dst_days_have_23_and_25_hours_with_the_right_prices(shipped_db):
    hours = dict(q(shipped_db, "SELECT local_date, count(*) FROM readings WHERE building='residential4' "
                   "AND device='grid_import' AND local_date IN ('2016-03-27','2016-03-28','2016-10-30') "
                   "GROUP BY local_date"))
    assert hours == {date(2016, 3, 27): 23, date(2016, 3, 28): 24, date(2016, 10, 30): 25}
    prices = pl.read_csv(DATA / "prices_de_day_ahead.csv.gz")
    with Store(shipped_db) as store:
        autumn = store.hours(date(2016, 10, 30), date(2016, 10, 30))
        spring = store.hours(date(2016, 3, 27), date(2016, 3, 27))
    assert autumn.height == 25 and spring.height == 23
    assert autumn["local_hour"].to_list()[:4] == [0, 1, 2, 2]  # the repeated wall-clock hour
    assert 2 not in spring["local_hour"].to_list()
    # Local 2016-10-30 runs from 2016-10-29T22:00Z (CEST) to 2016-10-30T23:00Z (CET); its two 02:00 hours are 00:00Z and 01:00Z.
    expected = prices.filter(pl.col("utc_timestamp").is_between(pl.lit("2016-10-29T22:00:00Z"),
                                                                pl.lit("2016-10-30T23:00:00Z"), closed="left"))["price_eur_mwh"]
    assert autumn["price_eur_mwh"].to_list() == expected.to_list()
    assert autumn["utc_hour"][0] == datetime(2016, 10, 29, 22)


def test_price_zone_changes_at_the_bidding_zone_split(shipped_db):
    rows = q(shipped_db, "SELECT utc_hour, zone FROM prices WHERE utc_hour BETWEEN "
             "'2018-09-30 21:00' AND '2018-09-30 22:00' ORDER BY utc_hour")
    assert [z for _, z in rows] == ["DE-AT-LU", "DE-LU"]


def test_residential3_impossible_steps_are_caught(shipped_db):
    """README quirks: grid_import +803.94 kWh at its last reading; PV night jumps in April 2017."""
    flagged = q(shipped_db, "SELECT device, utc_hour, energy_kwh, valid FROM readings WHERE building='residential3' "
                "AND flags & ? != 0 AND (device='grid_import' OR utc_hour BETWEEN '2017-04-01' AND '2017-04-30') "
                "ORDER BY device, utc_hour", [int(Quality.IMPOSSIBLE)])
    # The energy of hour t is meter[t+1] - meter[t]: a jump in the reading at 01:00Z is hour 00:00Z.
    assert [(d, t) for d, t, _, _ in flagged] == [
        ("grid_import", datetime(2017, 7, 8, 15)),
        *[("pv", datetime(2017, 4, day, 0)) for day in (8, 10, 11, 12, 13)],
        ("pv", datetime(2017, 4, 18, 23)),
        ("pv", datetime(2017, 4, 20, 23)),
    ]
    assert all(energy is None and not valid for _, _, energy, valid in flagged)
    # What is left is physical: the largest valid steps are the README's 3.06 and below the 12 kWh cap.
    assert q(shipped_db, "SELECT max(energy_kwh) FROM readings WHERE building='residential3' "
             "AND device='grid_import' AND valid")[0][0] == pytest.approx(3.06, abs=0.01)
    assert q(shipped_db, "SELECT max(energy_kwh) FROM readings WHERE building='residential3' "
             "AND device='pv' AND valid")[0][0] < 12


def test_a_building_in_two_releases_is_refused(data_cfg, tmp_path):
    with pytest.raises(DataError, match=r"building residential4 is also in .*cossmic_residential4_60min.csv.gz; ingest one file \(one OPSD release\) per building"):
        ingest([DATA / "cossmic_residential4_60min.csv.gz", LEGACY_FIXTURE], data_cfg, db=tmp_path / "x.duckdb")
    assert not (tmp_path / "x.duckdb").exists()


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_ingest_is_idempotent_and_atomic(data_cfg, tmp_path):
    db = tmp_path / "ems.duckdb"
    files = [DATA / "cossmic_residential5_60min.csv.gz", DATA / "prices_de_day_ahead.csv.gz"]
    first = ingest(files, data_cfg, db=db)
    counts = q(db, "SELECT (SELECT count(*) FROM readings), (SELECT count(*) FROM prices), "
               "(SELECT count(*) FROM devices), (SELECT count(*) FROM sources)")
    second = ingest(files, data_cfg, db=db)
    assert second.readings == first.readings
    assert q(db, "SELECT (SELECT count(*) FROM readings), (SELECT count(*) FROM prices), "
             "(SELECT count(*) FROM devices), (SELECT count(*) FROM sources)") == counts
    # A failing ingest (a broken file after a good one) leaves the database exactly as it was.
    before = _digest(db)
    broken = tmp_path / "broken.csv"
    broken.write_text("utc_timestamp,DE_KN_residential6_pv\n2016-01-01T00:00:00Z,1.0\n2016-01-01T01:00:00Z,abc\n")
    with pytest.raises(DataError, match=r"broken.csv: column DE_KN_residential6_pv row 2 holds 'abc'"):
        ingest([DATA / "cossmic_residential6_60min.csv.gz", broken], data_cfg, db=db)
    assert _digest(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.csv", "ems.duckdb", "ems.duckdb.lock"]


def test_weather_with_irradiance_and_the_temperature_only_file(shipped_db, data_cfg, tmp_path):
    # 2016-06-15T11Z in shared/data/opsd_weather_de_60min_2014_2019.csv: 16.923 deg C, 80.0523 / 374.7973 W/m2.
    noon = "SELECT temperature_c, direct_wm2, diffuse_wm2 FROM weather WHERE utc_hour = '2016-06-15 11:00:00'"
    assert q(shipped_db, noon) == [(16.923, 80.0523, 374.7973)]
    assert q(shipped_db, "SELECT count(*) FROM weather WHERE direct_wm2 IS NULL OR diffuse_wm2 IS NULL") == [(0,)]
    # The superseded temperature-only file is still accepted; ingested on top, it keeps the irradiance
    # (its temperature equals the newer file's to rounding).
    db = tmp_path / "w.duckdb"
    ingest([DATA / "opsd_weather_de_60min_2014_2019.csv.gz"], data_cfg, db=db)
    ingest([DATA / "opsd_weather_de_temperature_60min.csv.gz"], data_cfg, db=db)
    (temp, direct, diffuse), = q(db, noon)
    assert temp == pytest.approx(16.923, abs=1e-9) and (direct, diffuse) == (80.0523, 374.7973)
    alone = tmp_path / "t.duckdb"
    ingest([DATA / "opsd_weather_de_temperature_60min.csv.gz"], data_cfg, db=alone)
    assert q(alone, "SELECT count(*), count(direct_wm2) FROM weather") == [(43_823, 0)]
