"""KPIs on hand-computed cases."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest

from ems.experiment import kpis
from ems.learning.runs import detect_runs


def test_energy_cost_and_savings():
    # 2 h import at 0.30 and 0.10, 1 kWh export at 0.08, quarter-hour steps.
    cost = kpis.energy_cost_eur([4.0, 8.0, 0.0], [0.0, 0.0, 4.0], [0.30, 0.10, 0.20], [0.08] * 3, step_hours=0.25)
    assert cost == pytest.approx(1.0 * 0.30 + 2.0 * 0.10 - 1.0 * 0.08)
    assert kpis.savings(10.0, 7.5, 10.0) == (2.5, 25.0)
    # A PV month: the baseline's net cost is negative (feed-in exceeds imports); the share is of its imports.
    assert kpis.savings(-2.0, -3.0, 4.0) == (1.0, 25.0)
    saved, pct = kpis.savings(0.0, -1.0, 0.0)
    assert saved == 1.0 and math.isnan(pct)
    assert kpis.import_cost_eur([4.0, 8.0], [0.30, 0.10], step_hours=0.25) == pytest.approx(0.5)


def test_peaks():
    assert kpis.peak_import_kw([1.0, 3.5, 2.0]) == 3.5
    assert kpis.peak_import_kw([]) == 0.0
    assert kpis.peak_reduction_pct(4.0, 3.0) == 25.0


def test_pv_self_consumption_and_self_sufficiency():
    pv, imp, exp, curt = [0.0, 4.0, 2.0], [2.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]
    # PV 6 kWh, 1 exported, 1 curtailed: 4 used on site.
    assert kpis.pv_self_consumption_pct(pv, exp, curt) == pytest.approx(100 * 4 / 6)
    # Consumption = import 3 - export 1 + PV 6 - curtailed 1 = 7; 3 imported: 4/7 self-supplied.
    assert kpis.self_sufficiency_pct(imp, exp, pv, curt) == pytest.approx(100 * 4 / 7)
    assert math.isnan(kpis.pv_self_consumption_pct([0.0], [0.0], [0.0]))


def test_kwh_shifted_battery_cycles_and_preferences():
    planned = {"dishwasher#1": np.array([0, 0, 2.0, 1.0]), "heat_pump": np.array([1.0, 1.0, 0, 0])}
    metered = {"dishwasher#1": np.array([2.0, 1.0, 0, 0]), "heat_pump": np.array([0.5, 1.0, 0.5, 0])}
    # Four prices, all different: every moved kWh counts (dishwasher 3, heat pump 0.5).
    assert kpis.kwh_shifted(planned, metered, [0.3, 0.2, 0.1, 0.4]) == pytest.approx(3.0 + 0.5)
    # A flat price: moving runs changes nothing and shifts nothing.
    assert kpis.kwh_shifted(planned, metered, [0.3] * 4) == 0.0
    # Steps 0 and 1 at one price, 2 and 3 at another: the dishwasher moves 3 kWh across; the heat pump
    # moves 0.5 kWh from step 2 to step 0 (across: 0.5).
    assert kpis.kwh_shifted(planned, metered, [0.3, 0.3, 0.1, 0.1]) == pytest.approx(3.0 + 0.5)
    # Steps 0, 2 at one price and 1, 3 at another: the dishwasher's runs move 0 -> 2 and 1 -> 3, the heat
    # pump's 0.5 kWh 2 -> 0, each within its price level: nothing shifted.
    assert kpis.kwh_shifted(planned, metered, [0.3, 0.2, 0.3, 0.2]) == 0.0
    assert kpis.battery_equivalent_full_cycles([5.0, 5.0], [4.5, 4.5], capacity_kwh=10.0) == pytest.approx(0.95)
    assert kpis.starts_in_pmf_pct([0.2, 0.01, 0.05, 0.3], theta=0.05) == 75.0
    assert math.isnan(kpis.starts_in_pmf_pct([], theta=0.05))
    # Satisfaction: scheduled starts 3, 7, 20 against the household's 4, 9, 20, within 1 hour: two of three.
    assert kpis.as_household([3, 7, 20], [4, 9, 20], 1) == 2 and kpis.as_household([3, 7, 20], [4, 9, 20], 0) == 1


def test_runs_are_stretches_above_the_threshold():
    energy = np.array([0.001, 0.9, 0.1, 0.7, 0.002, 0.0, 1.1, np.nan, 0.3])
    runs = detect_runs(energy, 0.05)
    assert [(s, p.tolist()) for s, p in runs] == [(1, [0.9, 0.1, 0.7]), (6, [1.1]), (8, [0.3])]


def _hours(first_utc: str, n: int) -> pl.DataFrame:
    start = datetime.fromisoformat(first_utc)
    utc = [start + timedelta(hours=h) for h in range(n)]
    frame = pl.DataFrame({"utc_hour": utc}).with_columns(pl.col("utc_hour").cast(pl.Datetime("us")))
    local = pl.col("utc_hour").dt.replace_time_zone("UTC").dt.convert_time_zone("Europe/Berlin")
    return frame.with_columns(local_date=local.dt.date(), local_hour=local.dt.hour())


def test_naive_forecast_averages_the_same_local_hour_across_dst():
    from ems.experiment.forecast import NaiveForecast

    forecast = NaiveForecast(days=2)
    assert forecast.predict(_hours("2016-10-28T22:00", 24), np.zeros(24), np.zeros(24)) is None
    forecast.observe(_hours("2016-10-28T22:00", 24), np.full(24, 1.0), np.arange(24.0))  # Sat 2016-10-29
    autumn = _hours("2016-10-29T22:00", 25)  # Sun 2016-10-30: the 25-hour day repeats 02:00
    assert autumn["local_hour"].to_list()[:5] == [0, 1, 2, 2, 3]
    forecast.observe(autumn, np.full(25, 3.0), np.r_[np.arange(3.0), [10.0], np.arange(3.0, 24.0)])
    predicted = forecast.predict(_hours("2016-10-30T23:00", 24), np.zeros(24), np.zeros(24))  # Mon 2016-10-31
    assert predicted.base_kw.tolist() == [2.0] * 24
    # 02:00: Saturday's 2.0 and the mean of Sunday's two 02:00 hours (2.0 and 10.0) -> (2 + 6) / 2.
    assert predicted.pv_kw[:4].tolist() == [0.0, 1.0, 4.0, 3.0] and predicted.pv_kw[-1] == 23.0
    forecast.observe(_hours("2016-10-30T23:00", 24), np.full(24, 5.0), np.zeros(24))
    spring = forecast.predict(_hours("2017-03-25T23:00", 23), np.zeros(23), np.zeros(23))  # no 02:00 that day
    assert spring is not None and len(spring.base_kw) == 23
