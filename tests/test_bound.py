"""The perfect-foresight bound (ems.experiment.bound) and the regret of every run against it."""

from __future__ import annotations

import math

import pytest

from conftest import run_cli

ROWS = ("energy cost EUR", "bound (perfect foresight) EUR", "regret EUR", "of it: forecast EUR",
        "of it: horizon EUR")


def _table(stdout: str) -> tuple[list[str], dict[str, list[float]]]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("residential4 |"))
    labels = lines[start + 1].split()
    rows = {}
    for line in lines[start + 2:]:
        name, cells = line[:36].strip(), line[36:].split()
        if name in ROWS:
            rows[name] = [float("nan") if c == "n/a" else float(c) for c in cells]
    return labels, rows


def test_the_bound_is_below_every_mode_and_the_regret_adds_up(shipped_db, tmp_path):
    result = run_cli("run.py", "experiment=compare", "ev=home", "forecast=naive", "period.start=2016-01-10",
                     "period.n_days=10", "tracking.enabled=false", f"paths.db={shipped_db}",
                     f"paths.output_dir={tmp_path}", check=True)
    labels, rows = _table(result.stdout)
    assert len(labels) == 10 and all(len(v) == 10 for v in rows.values())
    costs, bounds = rows["energy cost EUR"], rows["bound (perfect foresight) EUR"]
    for label, cost, bound, regret, forecast, horizon in zip(labels, costs, bounds, rows["regret EUR"],
                                                             rows["of it: forecast EUR"], rows["of it: horizon EUR"]):
        assert bound <= cost + 0.005, label  # table values are rounded to cents
        assert regret == pytest.approx(cost - bound, abs=0.011) and regret == pytest.approx(forecast + horizon,
                                                                                             abs=0.011)
        if label.startswith("baseline/"):
            assert forecast == 0.0  # the metered schedule does not depend on the forecast
    by_battery = {label.split("/")[1]: b for label, b in zip(labels, bounds)}
    assert by_battery["home"] <= by_battery["none"]  # a battery can only lower what was possible
    assert len(set(bounds[:5])) == 1 and len(set(bounds[5:])) == 1  # one bound per house, whatever the mode
    log = result.stdout + result.stderr
    assert "bound: " in log and "(direction_milp," in log


def test_with_perfect_foresight_all_regret_is_the_horizons(shipped_db, tmp_path):
    result = run_cli("run.py", "mode=centralized", "battery=home", "forecast=perfect", "period.start=2016-01-01",
                     "period.n_days=31",
                     "tracking.enabled=false", f"paths.db={shipped_db}", f"paths.output_dir={tmp_path}", check=True)
    _, rows = _table(result.stdout)
    assert rows["of it: forecast EUR"] == [0.0]
    # Measured: the day-by-day plan costs 136.81 EUR, the whole-month bound 135.17 EUR.
    assert 0 < rows["regret EUR"][0] == rows["of it: horizon EUR"][0]
    assert rows["bound (perfect foresight) EUR"][0] < rows["energy cost EUR"][0]


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_the_bound_carries_the_battery_across_midnight_on_a_hand_solvable_case(solver):
    from ems.experiment.bound import join_requests, solve_bound
    from ems.optim.optimize import optimize_day
    from ems.optim.request import BatterySpec, Grid, parse_request

    # Day 1: 0.10 EUR/kWh all day, no load. Day 2: 0.30 EUR/kWh, 1 kW for 10 hours. A 10 kWh battery,
    # empty at the start, lossless, 5 kW. Planned one day at a time, day 1 has no reason to charge and
    # day 2 buys its 10 kWh at 0.30 (3.00 EUR); over both days at once the battery takes them on day 1
    # at 0.10 (1.00 EUR).
    battery = BatterySpec(capacity_kwh=10, max_charge_kw=5, max_discharge_kw=5, soc_init_kwh=0)
    grid = Grid(max_import_kw=10, max_export_kw=0)
    day = lambda price, load: {"import_price_eur_kwh": [price] * 24, "base_load_kw": load,  # noqa: E731
                               "grid": grid.model_dump(), "battery": battery.model_dump(), "solver": {"name": solver}}
    first, second = parse_request(day(0.10, [0.0] * 24)), parse_request(day(0.30, [1.0] * 10 + [0.0] * 14))
    daily = optimize_day(first).energy_cost_eur + optimize_day(second).energy_cost_eur
    assert daily == pytest.approx(3.0, abs=1e-9)
    joined = join_requests([first, second], [battery], grid, solver)
    assert joined.n_steps == 48 and joined.batteries[0].soc_init_kwh == 0
    cost, _ = solve_bound(joined)
    assert cost == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_a_36_hour_horizon_keeps_the_evening_charge_the_day_horizon_wastes(solver):
    from ems.optim.optimize import optimize_day
    from ems.optim.request import BatterySpec, Grid, parse_request
    from ems.planning.horizon import commit, extend

    # A full 6 kWh battery that cannot recharge (0 kW charger); 1 kW of load from 18 to 24 h on day 1
    # (0.30 EUR/kWh) and from 0 to 6 h on day 2 (0.50 EUR/kWh). The day horizon spends the battery on
    # day 1's evening (6 kWh x 0.30 saved) and day 2's morning imports at 0.50: 3.00 EUR over both days.
    # Planning 36 h keeps the charge for the dearer morning: day 1 imports at 0.30 (1.80 EUR), day 2 nothing.
    battery = BatterySpec(capacity_kwh=6, max_charge_kw=0, max_discharge_kw=6, soc_init_kwh=6)
    grid = Grid(max_import_kw=10, max_export_kw=0)
    day = lambda prices, load, soc: {"import_price_eur_kwh": prices, "base_load_kw": load,  # noqa: E731
                                     "grid": grid.model_dump(), "solver": {"name": solver},
                                     "battery": {**battery.model_dump(), "soc_init_kwh": soc}}
    prices1, load1 = [0.10] * 18 + [0.30] * 6, [0.0] * 18 + [1.0] * 6
    prices2, load2 = [0.50] * 6 + [0.10] * 18, [1.0] * 6 + [0.0] * 18

    def two_days(extra_hours: int) -> tuple[float, float]:
        first = parse_request(day(prices1, load1, 6.0))
        plan = optimize_day(extend(first, prices2[:extra_hours], [0.0] * extra_hours, load2[:extra_hours],
                                   [0.0] * extra_hours))
        committed = commit(plan, first)
        soc = committed.storages["battery"].soc_kwh[-1]
        second = optimize_day(parse_request(day(prices2, load2, soc)))
        return committed.energy_cost_eur + second.energy_cost_eur, soc

    assert two_days(0) == pytest.approx((3.0, 0.0), abs=1e-9)
    assert two_days(12) == pytest.approx((1.8, 6.0), abs=1e-9)


def test_the_receding_horizon_changes_the_plan_and_stays_above_the_bound(shipped_db, tmp_path):
    figures = {}
    runs = {"day": ["horizon=day"], "receding": ["horizon=receding"],
            "receding 24 h": ["horizon=receding", "horizon.hours=24"],
            "receding, actual prices": ["horizon=receding", "horizon.price_forecast=perfect"]}
    for label, overrides in runs.items():
        result = run_cli("run.py", *overrides, "mode=centralized", "battery=home", "period.start=2016-01-01",
                         "period.n_days=31", "tracking.enabled=false", f"paths.db={shipped_db}",
                         f"paths.output_dir={tmp_path}", check=True)
        _, rows = _table(result.stdout)
        assert "over 31 days" in result.stdout  # every day planned, committed and bounded
        figures[label] = rows["energy cost EUR"][0], rows["bound (perfect foresight) EUR"][0]
    # Measured: 136.81 EUR planning each day, 136.73 EUR planning 36 h with last week's prices beyond the
    # day, 136.59 EUR with the actual prices there; the bound 135.17 EUR.
    assert figures["day"][0] != figures["receding"][0]
    assert figures["receding 24 h"] == figures["day"]  # 24 hours is the day alone
    assert figures["receding, actual prices"][0] != figures["receding"][0]  # the price forecast is used
    assert all(bound <= cost for cost, bound in figures.values())


def test_the_regret_knobs_turn_the_bound_and_the_split_off(shipped_db, tmp_path):
    common = ["mode=centralized", "battery=home", "forecast=naive", "period.start=2016-01-10", "period.n_days=5",
              "tracking.enabled=false", f"paths.db={shipped_db}", f"paths.output_dir={tmp_path}"]
    split = _table(run_cli("run.py", *common, check=True).stdout)[1]
    unsplit = _table(run_cli("run.py", *common, "regret.split=false", check=True).stdout)[1]
    off = _table(run_cli("run.py", *common, "regret.enabled=false", check=True).stdout)[1]
    assert not math.isnan(split["of it: forecast EUR"][0]) and math.isnan(unsplit["of it: forecast EUR"][0])
    assert unsplit["regret EUR"] == split["regret EUR"]
    assert all(math.isnan(off[k][0]) for k in ROWS[1:]) and off["energy cost EUR"] == split["energy cost EUR"]
