"""`python run.py` end to end, as a user runs it, on the shipped real data."""

from __future__ import annotations

import json
import re
import sqlite3

import polars as pl
import pytest

from conftest import DATA, run_cli
from ems.config import config_dir


def independent_baseline_cost(first_utc: str, end_utc: str, surcharges: float, vat: float, feed_in: float) -> float:
    """residential4's metered cost over [first_utc, end_utc), straight from the shipped CSVs."""
    meters = pl.read_csv(DATA / "cossmic_residential4_60min.csv.gz")
    prices = pl.read_csv(DATA / "prices_de_day_ahead.csv.gz")
    window = meters.with_columns(
        imp=pl.col("DE_KN_residential4_grid_import").shift(-1) - pl.col("DE_KN_residential4_grid_import"),
        exp=pl.col("DE_KN_residential4_grid_export").shift(-1) - pl.col("DE_KN_residential4_grid_export"),
    ).filter(pl.col("utc_timestamp") >= first_utc, pl.col("utc_timestamp") < end_utc).join(prices, on="utc_timestamp")
    price = (window["price_eur_mwh"] / 1000 + surcharges) * (1 + vat)
    return float((window["imp"] * price).sum() - (window["exp"] * feed_in).sum())


def test_default_run_ingests_on_first_use_and_reports(tmp_path):
    result = run_cli("run.py", "experiment=smoke", f"paths.output_dir={tmp_path}", check=True)
    assert (tmp_path / "ems.duckdb").is_file()  # built automatically on the first run
    assert "ingested 6 building(s)" in result.stdout
    # The default: phases on the learned forecast, planned day by day.
    assert "residential4 | 2016-03-26 .. 2016-03-27 | DynamicTariff | forecast ml | horizon 24 h | deterministic" \
        in result.stdout
    assert re.search(r"^ +phases$", result.stdout, re.M)
    assert re.search(r"^days scheduled +2$", result.stdout, re.M)
    run_dir = next((tmp_path / "runs" / "smoke").iterdir())
    daily = pl.read_csv(run_dir / "daily.csv")
    assert daily["local_date"].to_list() == ["2016-03-26", "2016-03-27"]
    assert daily["hours"].to_list() == [24, 23]  # 2016-03-27 is the spring DST day
    totals = json.loads((run_dir / "summary.json").read_text())["totals"]
    # Local 2016-03-26 00:00 CET = 2016-03-25T23:00Z; local 2016-03-28 00:00 CEST = 2016-03-27T22:00Z.
    expected = independent_baseline_cost("2016-03-25T23:00:00Z", "2016-03-27T22:00:00Z", 0.18, 0.19, 0.082)
    assert totals["metered_cost_eur"] == pytest.approx(expected, abs=1e-9)
    assert re.search(rf"^metered bill \(intra-hour\) EUR +{expected:.2f}$", result.stdout, re.M)
    # The baseline settles the same meters hour by hour (import and export of one hour netted), as every mode does.
    assert totals["baseline_cost_eur"] <= totals["metered_cost_eur"]
    assert totals["savings_eur"] == pytest.approx(totals["baseline_cost_eur"] - totals["energy_cost_eur"])
    assert totals["bound_cost_eur"] <= totals["energy_cost_eur"] + 1e-9
    assert totals["regret_eur"] == pytest.approx(totals["energy_cost_eur"] - totals["bound_cost_eur"])


def test_fixed_tariff_settles_by_hand(shipped_db, tmp_path):
    common = ["run.py", "experiment=smoke", f"paths.output_dir={tmp_path}", f"paths.db={shipped_db}",
              "tracking.enabled=false"]
    run_cli(*common, "tariff=fixed", check=True)
    run_dir = sorted((tmp_path / "runs" / "smoke").iterdir())[-1]
    daily = pl.read_csv(run_dir / "daily.csv")
    expected = 0.29 * daily["import_kwh"].sum() - 0.082 * daily["export_kwh"].sum()
    assert json.loads((run_dir / "summary.json").read_text())["totals"]["energy_cost_eur"] == pytest.approx(expected)


def test_unknown_building_fails_with_one_line_naming_the_file(shipped_db, tmp_path):
    result = run_cli("run.py", "building=industrial3", f"paths.output_dir={tmp_path}", f"paths.db={shipped_db}")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        f"error: building industrial3: no readings in {shipped_db}; ingest the full OPSD "
        "household_data_60min_singleindex.csv (or fetch it: python -m ems data ingest --download) "
        "(`python -m ems data ingest PATH`; have: residential1, residential2, residential3, residential4, "
        "residential5, residential6)"
    ]


def test_bad_config_value_fails_with_one_line(shipped_db, tmp_path):
    result = run_cli("run.py", "battery=home", "battery.charge_efficiency=1.5", f"paths.output_dir={tmp_path}",
                     f"paths.db={shipped_db}")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: battery.charge_efficiency=1.5 must be in (0, 1]"


def test_days_with_missing_meters_are_skipped_and_counted(shipped_db, tmp_path):
    # residential3's grid_import meter ends 2017-07-08T16Z (README): the following days cannot be settled.
    result = run_cli("run.py", "building=residential3", "period.start=2017-07-06", "period.n_days=5",
                     f"paths.output_dir={tmp_path}", f"paths.db={shipped_db}", check=True)
    assert re.search(r"^days scheduled +2$", result.stdout, re.M)
    assert re.search(r"^days skipped \(data\) +3$", result.stdout, re.M)
    run_dir = next((tmp_path / "runs" / "default").iterdir())
    skipped = json.loads((run_dir / "summary.json").read_text())["skipped"]
    assert skipped == {"grid_import has no valid reading for some hours": 3}


def test_optuna_sweeper_runs_and_stores_its_study_in_sqlite(shipped_db, tmp_path):
    """The project's Optuna sweeper (Optuna >= 4, SQLAlchemy 2) runs the trials and stores the study in sqlite."""
    result = run_cli("run.py", "-m", "sweep=surcharge_check", "experiment=smoke", f"paths.output_dir={tmp_path}",
                     f"paths.db={shipped_db}", check=True)
    with sqlite3.connect(tmp_path / "optuna.db") as con:
        trials = con.execute(
            """SELECT t.number, v.value, p.param_value FROM trials t JOIN trial_values v USING (trial_id)
               JOIN trial_params p USING (trial_id) WHERE t.state = 'COMPLETE' ORDER BY t.number""").fetchall()
    assert len(trials) == 4
    # The cost rises with the surcharge (the household imports), so the best trial has the lowest surcharge.
    best = min(trials, key=lambda t: t[1])
    assert best[2] == min(t[2] for t in trials)
    assert f"Best value: {best[1]}" in result.stdout + result.stderr


OVERLAYS = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_experiment_overlay_runs(overlay, tmp_path, shipped_db):
    """Each ``conf/experiment`` overlay composes and runs end to end (two days of it) and writes its summary."""
    result = run_cli("run.py", f"experiment={overlay}", "period.n_days=2", "tracking.enabled=false",
                     "regret.enabled=false", f"paths.db={shipped_db}", f"paths.output_dir={tmp_path}",
                     f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr[-3000:]
    summaries = list((tmp_path / "run").rglob("summary.json"))
    assert summaries and all(json.loads(s.read_text()) for s in summaries)
