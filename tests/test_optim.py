"""The day-ahead MILP against optima known by enumeration or by hand, on every installed solver."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import polars as pl
import pytest

from ems.agents.flexible import FlexibleDeviceAgent
from ems.optim.optimize import optimize_day
from ems.optim.request import RequestError, parse_request
from ems.optim.result import DeviceSchedule
from ems.optim.rules import rule_based_schedule
from ems.optim.solver import SOLVERS, SolverSpec
from ems.optim.validate import violations

from conftest import DATA, run_cli

SOLVER_NAMES = [name for name in SOLVERS if SolverSpec(name=name).available()]


@pytest.fixture(params=SOLVER_NAMES)
def solver(request) -> str:
    return request.param


def real_prices(day_utc: str, n: int = 24) -> list[float]:
    """Day-ahead prices (EUR/kWh) of n hours from a real UTC midnight, plus 0.20 EUR/kWh surcharges."""
    prices = pl.read_csv(DATA / "prices_de_day_ahead.csv.gz")
    start = prices["utc_timestamp"].to_list().index(f"{day_utc}T00:00:00Z")
    return [round(p / 1000 + 0.20, 5) for p in prices["price_eur_mwh"][start:start + n]]


def day(prices, solver, **parts) -> dict:
    n = len(prices)
    base = {"step_hours": 1.0, "import_price_eur_kwh": prices, "export_price_eur_kwh": 0.0, "pv_kw": [0.0] * n,
            "base_load_kw": [0.0] * n, "grid": {"max_import_kw": 20.0, "max_export_kw": 20.0},
            "solver": {"name": solver}}
    return {**base, **parts}


def solve(data: dict):
    request = parse_request(data)
    result = optimize_day(request)
    assert result.ok, result.diagnosis
    assert violations(request, result) == []
    return request, result


def window_cost(prices, phases, k, dt=1.0) -> float:
    return dt * sum(p * w for p, w in zip(prices[k:k + len(phases)], phases))


def test_single_cycle_is_the_cheapest_window(solver):
    prices = real_prices("2016-06-01")
    phases = [2.0, 0.1, 0.8]
    _, result = solve(day(prices, solver, devices=[
        {"name": "dishwasher", "flex_model": "discrete_phase", "phases_kw": phases}]))
    best = min(range(24 - 2), key=lambda k: window_cost(prices, phases, k))
    assert result.status == "optimal"
    assert result.energy_cost_eur == pytest.approx(window_cost(prices, phases, best), abs=1e-7)
    assert result.devices["dishwasher"].starts == [best]
    assert result.objective_eur == pytest.approx(result.energy_cost_eur, abs=1e-9)


def test_quarter_hour_steps(solver):
    prices = [p for p in real_prices("2016-11-15") for _ in range(4)]  # 96 x 15 min
    phases = [2.0, 2.0, 0.2, 0.2, 0.2, 0.2, 1.0, 1.0]
    _, result = solve(day(prices, solver, step_hours=0.25, devices=[
        {"name": "washing_machine", "flex_model": "discrete_phase", "phases_kw": phases, "earliest_start": 24,
         "latest_end": 88}]))
    costs = {k: window_cost(prices, phases, k, 0.25) for k in range(24, 88 - 8 + 1)}
    assert result.energy_cost_eur == pytest.approx(min(costs.values()), abs=1e-7)
    assert len(result.import_kw) == 96


def test_two_cycles_and_a_heat_pump_under_a_tight_grid_limit_match_exhaustive_search(solver):
    prices = real_prices("2017-01-17")
    dish, wash = [2.0, 0.1, 0.8], [1.5, 1.5, 0.3, 0.3]
    limit, hp_energy, hp_max = 3.0, 6.0, 2.0
    _, result = solve(day(prices, solver, grid={"max_import_kw": limit, "max_export_kw": 0.0}, devices=[
        {"name": "dishwasher", "flex_model": "discrete_phase", "phases_kw": dish},
        {"name": "washing_machine", "flex_model": "discrete_phase", "phases_kw": wash},
        {"name": "heat_pump", "flex_model": "partial_usage", "energy_kwh": hp_energy, "max_kw": hp_max}]))
    best = math.inf
    for a, b in itertools.product(range(22), range(21)):  # every pair of starts
        power = np.zeros(24)
        power[a:a + 3] += dish
        power[b:b + 4] += wash
        if (power > limit).any():
            continue
        room = np.minimum(hp_max, limit - power)  # the heat pump is an LP: fill the cheapest room first
        need, cost = hp_energy, float(np.dot(power, prices))
        for t in sorted(range(24), key=lambda t: prices[t]):
            take = min(room[t], need)
            cost, need = cost + take * prices[t], need - take
        if need <= 1e-12:
            best = min(best, cost)
    assert result.energy_cost_eur == pytest.approx(best, abs=1e-7)


def test_two_runs_with_a_minimum_gap(solver):
    prices = real_prices("2016-06-01")
    phases = [1.0, 1.0]
    _, result = solve(day(prices, solver, devices=[
        {"name": "washing_machine", "flex_model": "discrete_phase", "phases_kw": phases, "runs": 2,
         "min_gap_steps": 3}]))
    best = min(window_cost(prices, phases, a) + window_cost(prices, phases, b)
               for a in range(23) for b in range(a + 5, 23))
    assert result.energy_cost_eur == pytest.approx(best, abs=1e-7)
    a, b = result.devices["washing_machine"].starts
    assert b - a >= 5


def test_battery_arbitrage_by_hand(solver):
    battery = {"capacity_kwh": 2.0, "max_charge_kw": 2.0, "max_discharge_kw": 2.0, "soc_init_kwh": 0.0,
               "soc_final_min_kwh": 0.0, "soc_min_kwh": 0.0, "soc_max_kwh": 2.0, "charge_efficiency": 0.9,
               "discharge_efficiency": 0.9, "degradation_eur_kwh": 0.0}
    data = day([0.1, 0.3], solver, base_load_kw=[0.0, 2.0], battery=battery)
    # Charge 2 kWh at 0.10 (1.8 stored), deliver 1.62 kWh at step 1, import the other 0.38 kWh at 0.30.
    _, result = solve(data)
    assert result.energy_cost_eur == pytest.approx(0.2 + 0.3 * 0.38, abs=1e-7)
    assert result.storages["battery"].soc_kwh == pytest.approx([0.0, 1.8, 0.0], abs=1e-7)
    # With wear at 0.05 EUR/kWh each kWh still pays: 0.243 saved - 0.15 - 0.0405 > 0.
    _, worn = solve({**data, "battery": {**battery, "degradation_eur_kwh": 0.05}})
    assert worn.degradation_eur == pytest.approx(0.05 * (2 + 1.62), abs=1e-7)
    assert worn.objective_eur == pytest.approx(0.6 - 2 * 0.0525, abs=1e-7)


def test_negative_prices_do_not_buy_and_sell_at_once(solver):
    # Import pays 0.05 EUR/kWh, export earns 0.08: buying to sell would be free money the grid does not allow.
    _, result = solve(day([-0.05, 0.30], solver, export_price_eur_kwh=[0.08, 0.08]))
    assert result.energy_cost_eur == pytest.approx(0.0, abs=1e-9)
    assert result.import_kw == pytest.approx([0.0, 0.0], abs=1e-9)


def test_pv_is_curtailed_rather_than_exported_at_a_negative_price(solver):
    _, result = solve(day([0.3, 0.3], solver, pv_kw=[4.0, 0.0], base_load_kw=[1.0, 1.0],
                          export_price_eur_kwh=[-0.02, 0.08]))
    assert result.pv_curtailed_kw == pytest.approx([3.0, 0.0], abs=1e-9)
    assert result.energy_cost_eur == pytest.approx(0.3, abs=1e-9)


def test_ev_charges_in_the_cheapest_plugged_in_hours(solver):
    prices = real_prices("2016-02-10")
    ev = {"capacity_kwh": 40.0, "max_charge_kw": 3.7, "soc_init_kwh": 10.0, "soc_target_kwh": 20.0,
          "arrival_step": 2, "deadline_step": 10, "charge_efficiency": 0.9}
    _, result = solve(day(prices, solver, ev=ev))
    need = 10.0 / 0.9  # grid-side kWh
    expected, left = 0.0, need
    for t in sorted(range(2, 10), key=lambda t: prices[t]):
        take = min(3.7, left)
        expected, left = expected + take * prices[t], left - take
    assert result.energy_cost_eur == pytest.approx(expected, abs=1e-7)
    assert result.storages["ev"].soc_kwh[10] == pytest.approx(20.0, abs=1e-6)
    assert sum(result.storages["ev"].charge_kw[:2]) == 0 and sum(result.storages["ev"].charge_kw[10:]) == 0


def test_preferences_filter_by_theta_and_the_penalty_steers(solver):
    prices = [0.10] * 6 + [0.30] * 18
    pmf = [0.01] * 6 + [0.02] * 12 + [0.25, 0.2, 0.15, 0.05, 0.03, 0.02]  # sums to 1
    device = {"name": "dishwasher", "flex_model": "discrete_phase", "phases_kw": [1.0, 1.0], "pmf": pmf}
    # Only starts whose whole cycle has P >= 0.05 remain: 18, 19, 20; all cost 0.6, so the penalty
    # w * (1 - P(start)) decides: 0.75, 0.8, 0.85.
    _, result = solve(day(prices, solver, devices=[{**device, "preference_weight": 1.0}]))
    assert result.devices["dishwasher"].starts == [18] and result.warnings == []
    assert result.penalty_eur == pytest.approx(0.75, abs=1e-9)
    assert result.objective_eur == pytest.approx(0.6 + 0.75, abs=1e-9)
    # theta = 0 and w_prob = 0: the deterministic MILP takes the cheapest hours.
    _, free = solve(day(prices, solver, theta=0.0, devices=[device]))
    assert free.energy_cost_eur == pytest.approx(0.2, abs=1e-9)


def test_both_solvers_agree_on_a_full_day():
    if len(SOLVER_NAMES) < 2:
        pytest.fail(f"only {SOLVER_NAMES} installed; HiGHS and CBC are both dependencies")
    prices = real_prices("2016-07-12")
    data = day(prices, "highs", pv_kw=[0] * 6 + [0.5, 1.5, 3, 4, 5, 5.5, 5.5, 5, 4, 3, 1.5, 0.5] + [0] * 6,
               base_load_kw=[0.4] * 24, export_price_eur_kwh=0.082,
               devices=[{"name": "dishwasher", "flex_model": "discrete_phase", "phases_kw": [2.0, 0.1, 0.8]},
                        {"name": "heat_pump", "flex_model": "partial_usage", "energy_kwh": 9.0, "max_kw": 3.0,
                         "min_kw": 1.0}],
               battery={"capacity_kwh": 10, "max_charge_kw": 5, "max_discharge_kw": 5, "soc_init_kwh": 5,
                        "soc_final_min_kwh": 5, "soc_min_kwh": 1, "soc_max_kwh": 10, "charge_efficiency": 0.95,
                        "discharge_efficiency": 0.95, "degradation_eur_kwh": 0.02},
               ev={"capacity_kwh": 24, "max_charge_kw": 3.7, "soc_init_kwh": 8, "soc_target_kwh": 24,
                   "arrival_step": 0, "deadline_step": 7, "charge_efficiency": 0.9})
    objectives = {name: solve({**data, "solver": {"name": name}})[1].objective_eur for name in SOLVER_NAMES}
    assert objectives["highs"] == pytest.approx(objectives["cbc"], abs=1e-6)


@pytest.mark.parametrize("change, message", [
    ({"devices": [{"name": "dishwasher", "flex_model": "discrete_phase", "phases_kw": [2.0, 0.1, 0.8],
                   "earliest_start": 20, "latest_end": 22}]}, "dishwasher: a 3-step cycle cannot fit in [20, 22)"),
    ({"ev": {"capacity_kwh": 40, "max_charge_kw": 5.5, "soc_init_kwh": 0, "soc_target_kwh": 40, "arrival_step": 0,
             "deadline_step": 7, "charge_efficiency": 0.857142857142857}},
     "ev: 40 kWh needed by step 7, at most 33 kWh chargeable"),
    ({"devices": [{"name": "heat_pump", "flex_model": "partial_usage", "energy_kwh": 9.0, "max_kw": 3.0,
                   "earliest_start": 0, "latest_end": 2}]},
     "heat_pump: 9 kWh needed in [0, 2), at most 6 kWh deliverable"),
    ({"base_load_kw": [0.5] * 23 + [30.0]}, "grid: step 23 needs 30 kW of base load, at most 20 kW available"),
    ({"grid": {"max_import_kw": 2.5, "max_export_kw": 0.0}, "devices": [
        {"name": "dishwasher", "flex_model": "discrete_phase", "phases_kw": [2.0] * 12},
        {"name": "washing_machine", "flex_model": "discrete_phase", "phases_kw": [2.0] * 13}]},
     "washing_machine: cannot be met together with the rest of the day"),
])
def test_infeasible_requests_name_the_device_and_constraint(solver, change, message):
    result = optimize_day(parse_request(day(real_prices("2016-06-01"), solver, **change)))
    assert result.status == "infeasible"
    assert any(line.startswith(message) for line in result.diagnosis), result.diagnosis


@pytest.mark.parametrize("change, message", [
    ({"pv_kw": [0.0] * 23}, "pv_kw: has 23 values, expected 24 (one per step)"),
    ({"base_load_kw": [float("nan")] * 24}, "base_load_kw[0]=nan: expected a finite number"),
    ({"battery": {"capacity_kwh": -1, "max_charge_kw": 1, "max_discharge_kw": 1, "soc_init_kwh": 0}},
     "battery.capacity_kwh=-1: must not be negative"),
    ({"battery": {"capacity_kwh": 5, "max_charge_kw": 1, "max_discharge_kw": 1, "soc_init_kwh": 0,
                  "charge_efficiency": 1.1}}, "battery.charge_efficiency=1.1: an efficiency must be in (0, 1]"),
    ({"devices": [{"name": "x", "flex_model": "teleport"}]},
     "devices[0].flex_model='teleport': must be one of discrete_phase, partial_usage, thermal"),
    ({"grid": {"max_import_kw": 5}}, "grid.max_export_kw: required field is missing"),
])
def test_bad_requests_fail_before_solving_naming_the_field(change, message):
    with pytest.raises(RequestError) as err:
        parse_request(day(real_prices("2016-06-01"), "highs", **change))
    assert str(err.value) == message


def test_validator_catches_a_tampered_schedule(solver):
    request, result = solve(day(real_prices("2016-06-01"), solver, devices=[
        {"name": "dishwasher", "flex_model": "discrete_phase", "phases_kw": [2.0, 0.1, 0.8]}],
        battery={"capacity_kwh": 5, "max_charge_kw": 2, "max_discharge_kw": 2, "soc_init_kwh": 2}))
    start = result.devices["dishwasher"].starts[0]
    moved = DeviceSchedule(result.devices["dishwasher"].power_kw, [(start + 5) % 20])
    result.devices["dishwasher"] = moved
    result.storages["battery"].soc_kwh[3] += 0.5
    result.energy_cost_eur += 0.01
    found = " | ".join(violations(request, result))
    assert "dishwasher: power_kw is not the cycle started at" in found
    assert "battery: SOC does not follow charge and discharge" in found
    assert "energy_cost_eur: reported" in found


def test_rule_based_and_single_device_agents(solver):
    prices = real_prices("2016-07-12")
    data = day(prices, solver, base_load_kw=[0.4] * 24, devices=[
        {"name": "dishwasher", "flex_model": "discrete_phase", "phases_kw": [2.0, 0.1, 0.8]},
        {"name": "heat_pump", "flex_model": "partial_usage", "energy_kwh": 9.0, "max_kw": 3.0}],
        battery={"capacity_kwh": 10, "max_charge_kw": 5, "max_discharge_kw": 5, "soc_init_kwh": 5,
                 "soc_final_min_kwh": 5, "charge_efficiency": 0.95, "discharge_efficiency": 0.95})
    request, optimal = solve(data)
    rules = rule_based_schedule(request)
    assert rules.ok and violations(request, rules) == []
    assert rules.objective_eur >= optimal.objective_eur - 1e-9
    top = np.quantile(prices, 0.75)
    start = rules.devices["dishwasher"].starts[0]
    assert all(p < top for p in prices[start:start + 3])
    agent = FlexibleDeviceAgent(request.devices[0], SolverSpec(name=solver))
    alone = agent.optimize_day(prices)
    best = min(range(22), key=lambda k: window_cost(prices, [2.0, 0.1, 0.8], k))
    assert alone.starts == [best]


def test_cli_optimize_writes_the_result_and_exit_codes(tmp_path):
    good = tmp_path / "day.json"
    good.write_text(json.dumps(day(real_prices("2016-06-01"), "highs", devices=[
        {"name": "dishwasher", "flex_model": "discrete_phase", "phases_kw": [2.0, 0.1, 0.8]}])))
    out = tmp_path / "result.json"
    ok = run_cli("-m", "ems", "optimize", str(good), "--out", str(out))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == ""  # no solver banner: stdout stays the caller's
    to_stdout = run_cli("-m", "ems", "optimize", str(good))
    assert json.loads(to_stdout.stdout)["status"] == "optimal"  # pure JSON, e.g. for | jq
    result = json.loads(out.read_text())
    assert result["status"] == "optimal" and len(result["devices"]["dishwasher"]["starts"]) == 1
    assert set(result) >= {"energy_cost_eur", "objective_eur", "import_kw", "export_kw", "build_seconds",
                           "solve_seconds", "n_variables", "n_constraints"}
    infeasible = tmp_path / "bad.json"
    infeasible.write_text(json.dumps(day([0.3] * 24, "highs", devices=[
        {"name": "dishwasher", "flex_model": "discrete_phase", "phases_kw": [2.0, 0.1, 0.8], "earliest_start": 20,
         "latest_end": 22}])))
    no = run_cli("-m", "ems", "optimize", str(infeasible))
    assert no.returncode == 1
    assert json.loads(no.stdout)["status"] == "infeasible"
    assert "infeasible: dishwasher: a 3-step cycle cannot fit in [20, 22)" in no.stderr
    malformed = tmp_path / "malformed.json"
    malformed.write_text(json.dumps({**json.loads(good.read_text()), "pv_kw": [1.0]}))
    bad = run_cli("-m", "ems", "optimize", str(malformed))
    assert bad.returncode == 2
    assert bad.stderr.strip() == f"error: {malformed}: pv_kw: has 1 values, expected 24 (one per step)"
