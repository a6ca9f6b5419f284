"""KPIs on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ems.experiment import kpis
from ems.learning.runs import detect_runs


def test_energy_cost_and_savings():
    # 2 h import at 0.30 and 0.10, 1 kWh export at 0.08, quarter-hour steps.
    cost = kpis.energy_cost_eur([4.0, 8.0, 0.0], [0.0, 0.0, 4.0], [0.30, 0.10, 0.20], [0.08] * 3, step_hours=0.25)
    assert cost == pytest.approx(1.0 * 0.30 + 2.0 * 0.10 - 1.0 * 0.08)
    assert kpis.savings(10.0, 7.5) == (2.5, 25.0)
    saved, pct = kpis.savings(0.0, -1.0)
    assert saved == 1.0 and math.isnan(pct)


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
    assert kpis.kwh_shifted(planned, metered) == pytest.approx(3.0 + 0.5)
    assert kpis.battery_equivalent_full_cycles([5.0, 5.0], [4.5, 4.5], capacity_kwh=10.0) == pytest.approx(0.95)
    assert kpis.preference_satisfaction_pct([0.2, 0.01, 0.05, 0.3], theta=0.05) == 75.0
    assert math.isnan(kpis.preference_satisfaction_pct([], theta=0.05))


def test_runs_are_stretches_above_the_threshold():
    energy = np.array([0.001, 0.9, 0.1, 0.7, 0.002, 0.0, 1.1, np.nan, 0.3])
    runs = detect_runs(energy, 0.05)
    assert [(s, p.tolist()) for s, p in runs] == [(1, [0.9, 0.1, 0.7]), (6, [1.1]), (8, [0.3])]


def test_naive_forecast_averages_the_same_local_hour_across_dst():
    from ems.experiment.forecast import NaiveForecast

    forecast = NaiveForecast(days=2)
    hours24 = np.arange(24)
    assert forecast.predict(hours24, np.zeros(24), np.zeros(24)) is None
    forecast.observe(hours24, np.full(24, 1.0), np.arange(24.0))
    autumn = np.r_[0, 1, 2, 2, 3:24]  # the 25-hour day repeats 02:00
    forecast.observe(autumn, np.full(25, 3.0), np.r_[np.arange(3.0), [10.0], np.arange(3.0, 24.0)])
    base, pv = forecast.predict(np.r_[0, 1, 3:24], np.zeros(23), np.zeros(23))  # a 23-hour day (no 02:00)
    assert base.tolist() == [2.0] * 23
    assert pv[:3].tolist() == [0.0, 1.0, 3.0] and pv[-1] == 23.0
    forecast.observe(hours24, np.full(24, 5.0), np.zeros(24))  # keeps only the last 2 days
    base, pv = forecast.predict(hours24, np.zeros(24), np.zeros(24))
    assert base[0] == 4.0 and pv[2] == pytest.approx((2.0 + 10.0) / 2 / 2)
