"""The forecasters (ems.forecasting) on real series and on a series built here, and the forecast KPIs of a run.

The central property: a forecast never reads data at or after its forecast
time. Each test erases (overwrites) everything from the forecast day on and
checks the forecast does not change, and a model fitted on data at or after
the forecast time refuses to predict.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest

from ems.data.store import Store
from ems.forecasting import (FutureDataError, LoadForecaster, NaiveForecaster, PVForecaster, pinball, quality,
                             skill)

from conftest import run_cli

AT = datetime(2016, 6, 14, 22)  # 2016-06-15 00:00 CEST: a day-ahead forecast made at local midnight


@pytest.fixture(scope="module")
def series(shipped_db):
    """residential4's hourly PV and grid import (kWh per hour = kW) and the German weather, from the store."""
    with Store(shipped_db) as store:
        pv = store.query("SELECT utc_hour, energy_kwh AS value FROM readings WHERE building = 'residential4' "
                         "AND device = 'pv' AND valid AND utc_hour < '2016-07-15' ORDER BY utc_hour")
        load = store.query("SELECT utc_hour, energy_kwh AS value FROM readings WHERE building = 'residential4' "
                           "AND device = 'grid_import' AND valid AND utc_hour < '2016-07-15' ORDER BY utc_hour")
        weather = store.query("SELECT utc_hour, temperature_c, direct_wm2, diffuse_wm2 FROM weather "
                              "WHERE region = 'DE' AND utc_hour < '2016-07-15'")
    return pv, load, weather


def _erase_from(frame: pl.DataFrame, at: datetime, columns: list[str]) -> pl.DataFrame:
    """The frame with every value at or after ``at`` replaced by nonsense (a leak would show)."""
    return frame.with_columns([pl.when(pl.col("utc_hour") >= at).then(pl.lit(1e3)).otherwise(pl.col(c)).alias(c)
                               for c in columns])


@pytest.mark.parametrize("kind", ["naive", "load", "pv"])
def test_no_forecaster_reads_the_forecast_day_or_later(series, kind):
    pv, load, weather = series
    target = pv if kind == "pv" else load
    model = {"naive": NaiveForecaster(), "load": LoadForecaster(), "pv": PVForecaster()}[kind]
    model.fit(target.filter(pl.col("utc_hour") < AT), weather)
    # The weather of the forecast hours is an input (it stands in for a weather forecast): erase after them.
    horizon = 36
    end = AT + timedelta(hours=horizon)
    forecast = model.predict(AT, horizon, history=target, weather=weather)
    erased = model.predict(AT, horizon, history=_erase_from(target, AT, ["value"]),
                           weather=_erase_from(weather, end, ["temperature_c", "direct_wm2", "diffuse_wm2"]))
    assert len(forecast.point) == horizon and np.array_equal(forecast.point, erased.point)
    for q in forecast.quantiles:
        assert np.array_equal(forecast.quantiles[q], erased.quantiles[q])
    if kind != "naive":
        levels = sorted(forecast.quantiles)
        stacked = np.vstack([forecast.quantiles[q] for q in levels])
        assert (np.diff(stacked, axis=0) >= 0).all() and (stacked >= 0).all()  # no crossing, no negative kW
        with pytest.raises(FutureDataError, match=r"fitted on data up to 2016-06-1\d .*fit it on history before"):
            type(model)().fit(target.filter(pl.col("utc_hour") <= AT), weather).predict(AT, 24, weather=weather)


def test_pv_forecast_is_zero_at_night_and_beats_naive_over_a_month(series):
    pv, _, weather = series
    model = PVForecaster().fit(pv.filter(pl.col("utc_hour") < AT), weather)
    naive = NaiveForecaster().fit(pv)
    actual, ours, reference = [], [], []
    for day in range(30):
        at = AT + timedelta(days=day)
        fc = model.predict(at, 24, history=pv, weather=weather)
        truth = pv.filter((pl.col("utc_hour") >= at) & (pl.col("utc_hour") < at + timedelta(hours=24)))
        if truth.height != 24:
            continue
        actual += truth["value"].to_list()
        ours += fc.point.tolist()
        reference += naive.predict(at, 24).point.tolist()
    night = [i for i in range(len(ours)) if i % 24 in (0, 1, 2, 23)]  # 00-03 and 23 local: the sun is down in June
    assert all(ours[i] == 0.0 for i in night)
    scores = quality(actual, ours, reference)
    assert scores["mae_kw"] < scores["reference_mae_kw"]  # measured: 0.53 vs 0.58 kW (national, not local, weather)


def test_a_series_built_here_fits_and_predicts_the_weekly_pattern():
    # A stated-purpose series (not data): 1 kW, 3 kW from 18 to 21 h local on weekdays, 8 weeks of hours.
    start = datetime(2021, 1, 3, 23)  # 2021-01-04 00:00 CET, a Monday
    hours = [start + timedelta(hours=h) for h in range(24 * 56)]
    local = [h + timedelta(hours=1) for h in hours]
    value = [3.0 if t.weekday() < 5 and 18 <= t.hour < 21 else 1.0 for t in local]
    history = pl.DataFrame({"utc_hour": hours, "value": value})
    at = start + timedelta(days=49)  # a Monday, 00:00 local
    model = LoadForecaster(quantiles=(0.5,), use_temperature=False).fit(history.filter(pl.col("utc_hour") < at))
    fc = model.predict(at, 24, history=history)
    assert np.allclose(fc.point[18:21], 3.0, atol=0.2) and np.allclose(fc.point[:17], 1.0, atol=0.2)
    with pytest.raises(ValueError, match="history: expected a polars frame with columns utc_hour"):
        LoadForecaster().fit(pl.DataFrame({"time": hours}))


def test_quality_measures():
    assert pinball([2.0], [1.0], 0.9) == pytest.approx(0.9) and pinball([0.0], [1.0], 0.9) == pytest.approx(0.1)
    assert skill(0.5, 1.0) == 0.5 and math.isnan(skill(0.5, 0.0))
    scores = quality([1.0, 3.0], [1.0, 2.0], [2.0, 2.0], {0.5: np.array([1.0, 2.0])})
    assert scores["mae_kw"] == 0.5 and scores["reference_mae_kw"] == 1.0 and scores["mae_skill"] == 0.5
    assert scores["pinball_p50_kw"] == pytest.approx(0.25)


def test_a_run_reports_its_forecast_quality(shipped_db, tmp_path):
    common = ["mode=centralized", "battery=home", "period.start=2016-06-01", "period.n_days=7",
              "tracking.enabled=false", f"paths.db={shipped_db}", f"paths.output_dir={tmp_path}"]
    figures = {}
    for forecast in ("perfect", "naive", "ml"):
        result = run_cli("run.py", f"forecast={forecast}", *common, check=True)
        assert f"| forecast {forecast}" in result.stdout
        lines = {line[:30].strip(): line[30:].strip() for line in result.stdout.splitlines()}
        figures[forecast] = {k: float(lines[k]) for k in ("base load forecast MAE kW", "PV forecast MAE kW",
                                                          "base load skill vs naive %", "energy cost EUR")}
    assert figures["perfect"]["base load forecast MAE kW"] == 0.0 and figures["perfect"]["PV forecast MAE kW"] == 0.0
    assert figures["naive"]["base load skill vs naive %"] == 0.0
    assert figures["ml"]["base load forecast MAE kW"] > 0
    assert figures["ml"]["energy cost EUR"] != figures["perfect"]["energy cost EUR"]  # the forecast is what was planned


def test_the_learned_forecasts_knobs_change_the_run(shipped_db, tmp_path):
    # residential4's record starts 2015-10-10: the first days have little or no history before them.
    common = ["forecast=ml", "mode=centralized", "period.start=2015-10-10", "period.n_days=20",
              "tracking.enabled=false", f"paths.db={shipped_db}", f"paths.output_dir={tmp_path}"]
    runs = {}
    for label, knobs in {"default": [], "5 days": ["forecast.min_history_days=5"],
                         "daily refit": ["forecast.min_history_days=5", "forecast.refit_days=1"],
                         "quantiles": ["forecast.min_history_days=5", "forecast.quantiles=[0.25,0.5,0.75]"]}.items():
        out = tmp_path / label.replace(" ", "_")
        run_cli("run.py", *common, *knobs, f"hydra.run.dir={out}", check=True)
        runs[label] = __import__("json").loads((out / "summary.json").read_text())
    skipped = {k: v["skipped"].get("no history yet for the forecast", 0) for k, v in runs.items()}
    assert skipped["default"] > skipped["5 days"] > 0  # fewer days of history required: fewer days skipped
    totals = {k: v["totals"] for k, v in runs.items()}
    assert totals["daily refit"]["base_mae_kw"] != totals["5 days"]["base_mae_kw"]  # refitted on newer days
    assert "base_pinball_p10_kw" in totals["5 days"] and "base_pinball_p25_kw" in totals["quantiles"]
    assert "base_pinball_p10_kw" not in totals["quantiles"]
