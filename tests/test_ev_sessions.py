"""EV plug-in sessions from the EV meter's charging runs: an overnight session is one session."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import polars as pl
import pytest
from hydra.utils import instantiate

from conftest import run_cli
from ems.config import load_config
from ems.planning.needs import DayNeeds


@pytest.fixture(scope="module")
def ev():
    return instantiate(load_config(["ev=home"]).ev)  # arrival 18:00, departure 07:00, 24 kWh, 3.7 kW, eta 0.9


def _needs(ev, day: date, charging: dict[int, float]) -> DayNeeds:
    """A 24-hour day whose EV meter charges ``charging`` (local hour -> kWh), built for the test."""
    hours = np.arange(24)
    meter = np.zeros(24)
    for h, kwh in charging.items():
        meter[h] = kwh
    needs = DayNeeds(day, hours, np.zeros(24), np.zeros(24))
    needs.ev_sessions = {ev.name: ev.sessions_of(hours, meter, 0.05)}
    return needs


def test_an_overnight_session_is_one_session_across_midnight(ev):
    evening = _needs(ev, date(2016, 1, 4), {20: 3.0, 21: 3.0, 22: 3.0})
    morning = _needs(ev, date(2016, 1, 5), {0: 2.0, 1: 1.0, 12: 1.5})  # the night's charge, then a daytime run
    assert [s.overnight for s in evening.ev_sessions["ev"]] == [True]
    link = ev.link(evening, morning)
    assert (link.steps, link.absorbed, link.energy_kwh) == (7, 1, 3.0)  # until 07:00; the 00:00-02:00 run joins it
    # Planned 36 h from the evening's day: one session from 20:00 to 07:00 next day with all 12 kWh.
    whole = ev.spec(evening, steps=36, after=link)
    assert [(s.arrival_step, s.deadline_step) for s in whole.sessions] == [(20, 31)]
    assert whole.sessions[0].soc_target_kwh - whole.sessions[0].soc_init_kwh == pytest.approx(12 * 0.9)
    # Planned to midnight: the car must keep what 7 more hours at 3.7 kW cannot charge (here nothing).
    day = ev.spec(evening, after=link).sessions[0]
    assert day.deadline_step == 24 and day.soc_target_kwh == pytest.approx(day.soc_init_kwh)
    # The next day continues from the SOC the committed evening left; the 12:00 run is its own session.
    next_day = ev.spec(morning, before=link, start_soc_kwh=20.0)
    assert [(s.arrival_step, s.deadline_step, s.soc_init_kwh) for s in next_day.sessions] == [(0, 7, 20.0),
                                                                                              (12, 13, 22.65)]
    # In one whole-period plan the morning part is yesterday's session, not a second one.
    assert [s.arrival_step for s in ev.spec(morning, before=link, continuation=False).sessions] == [12]


def test_a_day_horizon_keeps_what_the_morning_cannot_charge(ev):
    evening = _needs(ev, date(2016, 1, 4), {19: 3.5, 20: 3.5, 21: 3.5, 22: 3.5})
    morning = _needs(ev, date(2016, 1, 5), {0: 3.5, 1: 3.5, 2: 3.5})
    link = ev.link(evening, morning)
    session = ev.spec(evening, after=link).sessions[0]
    # 24.5 kWh need 22.05 kWh in the car; 7 morning hours add at most 7 x 3.7 x 0.9 = 23.31 kWh.
    assert session.soc_init_kwh == pytest.approx(24 - 24.5 * 0.9)
    assert session.soc_target_kwh == pytest.approx(max(session.soc_init_kwh, 24 - 23.31))


@pytest.mark.parametrize("horizon", ["day", "receding"])
def test_a_real_overnight_session_is_charged_once_over_both_days(shipped_db, tmp_path, horizon):
    """residential4, 19-20 November 2016: the EV meter charges from 11:00 to 01:00 (17 kWh), one session."""
    run_cli("run.py", "mode=centralized", "ev=home", f"horizon={horizon}", "period.start=2016-11-19",
            "period.n_days=2", "regret.enabled=false", "tracking.enabled=false", f"paths.db={shipped_db}",
            f"paths.output_dir={tmp_path}", check=True)
    steps = pl.read_parquet(next(tmp_path.rglob("schedules.parquet")))
    assert steps["local_date"].n_unique() == 2
    charged = steps["ev_kw"].sum()
    # What the meter charged in the session (runs above the replay threshold), the same whatever the plan.
    with duckdb.connect(str(shipped_db), read_only=True) as con:
        metered = con.execute("SELECT sum(energy_kwh) FROM readings WHERE building = 'residential4' AND device = 'ev' "
                          "AND local_date IN ('2016-11-19', '2016-11-20') AND energy_kwh > 0.05").fetchone()[0]
    assert metered > 15 and charged == pytest.approx(metered, abs=1e-6)
    # Across midnight: the plan charges some of it after 00:00 or before, as prices say, never more than once.
    night = steps.filter(pl.col("local_date") == date(2016, 11, 20), pl.col("local_hour") < 7)["ev_kw"].sum()
    assert 0 <= night <= metered


def test_runs_that_touch_are_one_session(ev):
    # 05:00-06:59 charges, leaving at 07:00 by the rule; a run from 07:00 is the same plug-in, not a car that
    # left and came back within the hour (two sessions sharing a step boundary would share one SOC value).
    needs = _needs(ev, date(2016, 1, 4), {5: 1.0, 6: 1.0, 7: 2.0, 8: 2.0})
    assert [(s.arrival_step, s.departure_step, s.energy_kwh) for s in needs.ev_sessions["ev"]] == [(5, 9, 6.0)]
    evening = _needs(ev, date(2016, 1, 4), {22: 2.0})
    morning = _needs(ev, date(2016, 1, 5), {7: 2.0})  # starts right at the departure: still plugged in
    link = ev.link(evening, morning)
    assert (link.steps, link.absorbed, link.energy_kwh) == (8, 1, 2.0)


def test_a_session_beyond_the_cars_capacity_names_the_car_and_its_key():
    small = instantiate(load_config(["ev=home", "ev.capacity_kwh=4.0", "+ev.name=ev2"]).ev)
    needs = _needs(small, date(2016, 1, 4), {9: 3.0, 10: 3.0})  # 6 kWh into a 4 kWh car: the meter is not this car
    with pytest.raises(ValueError, match=r"^ev2: 6 kWh .* raise the capacity_kwh of EV 'ev2' \(ev.capacity_kwh, "
                                         r"or its entry in evs\)$"):
        small.spec(needs)
