"""Several batteries and EVs in one house: hand-solved optima on every installed solver, the validator
catching a tampered unit, the request's and the config's one-line refusals, and a replay on real data
whose second car is the labelled synthetic copy of residential4's EV meter."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import polars as pl
import pytest

from ems.config import load_config
from ems.data.store import Store
from ems.experiment.protocols import Experiment
from ems.optim.heuristics import seed_heuristic_schedule
from ems.optim.request import RequestError, parse_request
from ems.optim.result import DayResult
from ems.optim.rules import rule_based_schedule
from ems.optim.validate import violations

from conftest import run_cli
import test_optim
from test_optim import solve  # the checked solve: optimal and no violation

solver = test_optim.solver  # the fixture over every installed solver


def battery(name: str, kwh: float, wear: float = 0.0) -> dict:
    return {"name": name, "capacity_kwh": kwh, "max_charge_kw": kwh, "max_discharge_kw": kwh, "soc_init_kwh": 0.0,
            "degradation_eur_kwh": wear}


def two_batteries(solver: str, wear_b: float) -> dict:
    """Two steps at 0.10 and 0.30 EUR/kWh, 3 kW of load in the second, no export; battery a: 1 kWh / 1 kW,
    battery b: 2 kWh / 2 kW with ``wear_b`` EUR per kWh of throughput; both lossless, empty at the start."""
    return {"import_price_eur_kwh": [0.10, 0.30], "export_price_eur_kwh": 0.0, "base_load_kw": [0.0, 3.0],
            "grid": {"max_import_kw": 10.0, "max_export_kw": 0.0}, "solver": {"name": solver},
            "batteries": [battery("a", 1.0), battery("b", 2.0, wear_b)]}


def test_two_batteries_each_cycle_when_it_pays(solver):
    # a moves 1 kWh from 0.30 to 0.10: saves 0.20. b moves 2 kWh and saves 0.20 - 2 x 0.05 wear per kWh = 0.10
    # per kWh: energy 3 kWh x 0.10 = 0.30 EUR, wear 0.05 x (2 + 2) = 0.20 EUR, objective 0.50 EUR.
    _, result = solve(two_batteries(solver, 0.05))
    assert result.energy_cost_eur == pytest.approx(0.30, abs=1e-7)
    assert result.degradation_eur == pytest.approx(0.20, abs=1e-7)
    assert result.objective_eur == pytest.approx(0.50, abs=1e-7)
    a, b = result.storages["a"], result.storages["b"]
    assert a.charge_kw == pytest.approx([1.0, 0.0], abs=1e-7) and a.discharge_kw == pytest.approx([0.0, 1.0], abs=1e-7)
    assert b.charge_kw == pytest.approx([2.0, 0.0], abs=1e-7) and b.soc_kwh == pytest.approx([0.0, 2.0, 0.0], abs=1e-7)


def test_the_second_battery_stays_idle_when_its_wear_eats_the_spread(solver):
    # b at 0.15 EUR/kWh each way: 0.20 - 0.30 < 0 per kWh, so only a cycles: 0.10 + 2 x 0.30 = 0.70 EUR.
    _, result = solve(two_batteries(solver, 0.15))
    assert result.objective_eur == pytest.approx(0.70, abs=1e-7)
    assert sum(result.storages["b"].charge_kw) == pytest.approx(0.0, abs=1e-7)
    assert result.storages["a"].charge_kw == pytest.approx([1.0, 0.0], abs=1e-7)


def two_evs(solver: str, max_import_kw: float) -> dict:
    """Prices 0.30, 0.10, 0.20, 0.40; car one needs 3 kWh in steps 0-3, car two 4 kWh in steps 1-2, 3 kW each."""
    car = lambda name, need, arrive, leave: {  # noqa: E731
        "name": name, "capacity_kwh": 10.0, "max_charge_kw": 3.0,
        "sessions": [{"soc_init_kwh": 0.0, "soc_target_kwh": need, "arrival_step": arrive, "deadline_step": leave}]}
    return {"import_price_eur_kwh": [0.30, 0.10, 0.20, 0.40], "export_price_eur_kwh": 0.0,
            "grid": {"max_import_kw": max_import_kw, "max_export_kw": 0.0}, "solver": {"name": solver},
            "evs": [car("one", 3.0, 0, 4), car("two", 4.0, 1, 3)]}


def test_any_number_of_batteries_each_by_its_own_economics(solver):
    # Three batteries and 4 kW of load in the dear step: a (free) and b (0.05 EUR/kWh) cycle as above, c at
    # 0.15 EUR/kWh stays idle. Energy 3 kWh x 0.10 + 1 kWh x 0.30 = 0.60 EUR, wear 0.20 EUR, objective 0.80 EUR.
    request = two_batteries(solver, 0.05)
    request["base_load_kw"] = [0.0, 4.0]
    request["batteries"].append(battery("c", 1.0, 0.15))
    _, result = solve(request)
    assert result.objective_eur == pytest.approx(0.80, abs=1e-7)
    assert result.energy_cost_eur == pytest.approx(0.60, abs=1e-7)
    assert list(result.storages) == ["a", "b", "c"]
    assert [sum(result.storages[n].discharge_kw) for n in "abc"] == pytest.approx([1.0, 2.0, 0.0], abs=1e-7)


def test_two_evs_share_the_connection_each_with_its_own_sessions(solver):
    # Unlimited: both charge 3 kW at 0.10, car two its last kWh at 0.20: 0.60 + 0.20 = 0.80 EUR.
    _, free = solve(two_evs(solver, 20.0))
    assert free.energy_cost_eur == pytest.approx(0.80, abs=1e-7)
    # A 4 kW connection: 4 kWh at 0.10 and the other 3 at 0.20 = 1.00 EUR.
    request, shared = solve(two_evs(solver, 4.0))
    assert shared.energy_cost_eur == pytest.approx(1.00, abs=1e-7)
    one, two = shared.storages["one"], shared.storages["two"]
    assert one.soc_kwh[4] == pytest.approx(3.0, abs=1e-7) and two.soc_kwh[3] == pytest.approx(4.0, abs=1e-7)
    assert two.charge_kw[0] == 0 and two.charge_kw[3] == 0  # car two is not plugged in outside steps 1-2
    assert max(np.add(one.charge_kw, two.charge_kw)) <= 4.0 + 1e-7


def tampered(request, result: DayResult, change) -> list[str]:
    data = result.to_dict()
    change(data)
    return violations(request, DayResult.from_dict(data))


def test_the_validator_checks_every_unit_by_its_name(solver):
    request, result = solve(two_batteries(solver, 0.05))

    def soc(d):
        d["storages"]["b"]["soc_kwh"][1] += 0.5

    assert "b: SOC does not follow charge and discharge" in tampered(request, result, soc)
    assert "b: missing from the result" in tampered(request, result, lambda d: d["storages"].pop("b"))
    assert "c: scheduled but not in the request" in tampered(
        request, result, lambda d: d["storages"].update(c=d["storages"]["a"]))
    request, result = solve(two_evs(solver, 4.0))

    def early(d):  # car two charging before it arrives
        d["storages"]["two"]["charge_kw"][0] = 1.0

    assert "two: charge outside its limits" in tampered(request, result, early)


def test_the_rules_and_the_seed_heuristics_schedule_every_unit():
    request = parse_request(two_batteries("highs", 0.05) | two_evs("highs", 20.0) | {
        "import_price_eur_kwh": [0.30, 0.10, 0.20, 0.40], "base_load_kw": [0.0, 0.0, 0.0, 3.0]})
    for plan in (rule_based_schedule(request), seed_heuristic_schedule(request)):
        assert plan.ok, plan.diagnosis
        assert set(plan.storages) == {"a", "b", "one", "two"} and violations(request, plan) == []


@pytest.mark.parametrize("change, message", [
    ({"batteries": [battery("x", 1.0), battery("x", 2.0)]},
     "batteries[1].name: 'x' is taken by another part of the request; give each battery and EV its own name"),
    ({"batteries": [battery("battery", 1.0), battery("battery", 2.0)]},
     "batteries[1].name: 'battery' is taken by another part of the request; give each battery and EV its own name"),
    ({"battery": battery("a", 1.0), "batteries": [battery("b", 1.0)]},
     "battery: give either battery (one) or batteries (a list), not both"),
    ({"battery": {**battery("a", 1.0), "capacity_kwh": -1}}, "battery.capacity_kwh=-1: must not be negative"),
    ({"batteries": [battery("a", 1.0), {**battery("b", 1.0), "capacity_kwh": -1}]},
     "batteries[1].capacity_kwh=-1: must not be negative"),
])
def test_a_bad_fleet_request_fails_in_one_line(change, message):
    data = {"import_price_eur_kwh": [0.1, 0.3], "grid": {"max_import_kw": 5, "max_export_kw": 5}} | change
    with pytest.raises(RequestError) as err:
        parse_request(data)
    assert str(err.value) == message


@pytest.mark.parametrize("overrides, message", [
    (["battery=home", "batteries=[{name: a}]"], "batteries: the list replaces the battery group; run with "
                                                 "battery=none when listing batteries"),
    (["batteries=[{name: a, preset: huge}]"], "batteries[0].preset='huge': no such battery preset (known: home)"),
    (["batteries=[{name: a}, {name: a}]"], "batteries[1].name: 'a' appears twice in batteries; give each its own name"),
    (["batteries=[{name: a, capacity_kwh: -1}]"], "batteries[0].capacity_kwh"),
    (["evs=[{name: one}, {name: two}]"], "evs: one.meter is null; with several EVs each names its own EV meter"),
    (["evs=[{name: one, meter: ev}, {name: two, meter: ev}]"], "evs: two and one both read meter 'ev'"),
    (["evs=[{name: one, meter: pv}]"], "one.meter='pv': not an EV meter of residential4 (its EV meters: ev)"),
    (["batteries=[{name: ev}]", "evs=[{name: ev, meter: ev}]"], "evs: the name 'ev' is taken (batteries)"),
    (["+building.synthetic_meters={ev2: {copy_of: pv, lag_days: 7}}"],
     "building.synthetic_meters.ev2.copy_of='pv': not an EV meter of residential4 (its EV meters: ev)"),
    (["+building.synthetic_meters={ev2: {copy_of: ev, lag_days: 0}}"],
     "building.synthetic_meters.ev2.lag_days=0: expected a whole number of days >= 1"),
])
def test_a_bad_fleet_config_fails_in_one_line(overrides, message):
    with pytest.raises(ValueError) as err:
        Experiment.from_config(load_config(["building=residential4", "prior=uniform", *overrides]))
    assert str(err.value).startswith(message), str(err.value)


def test_the_fleet_experiment_replays_real_days_with_every_unit_carrying_its_own_state(tmp_path, shipped_db):
    """experiment=fleet on residential4, 2016-06-01 + 6 days: two batteries and two EVs, the second car the
    synthetic copy of the EV meter 7 days earlier; every output says so."""
    out = tmp_path / "run"
    result = run_cli("run.py", "experiment=fleet", "period.n_days=6", "mode=centralized", "forecast=perfect",
                     f"paths.db={shipped_db}", f"paths.output_dir={tmp_path}", f"hydra.run.dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "synthetic: residential4 ev2 is meter ev 7 days earlier" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["synthetic"] == ["synthetic: residential4 ev2 is meter ev 7 days earlier (no such meter exists; "
                                    "its energy is added to the import)"]
    daily, steps = pl.read_csv(out / "daily.csv"), pl.read_parquet(out / "schedules.parquet")
    assert daily["synthetic"].str.starts_with("synthetic:").all() and steps["synthetic"].str.starts_with("synthetic:").all()
    assert daily.height == 6
    # each battery's SOC: its own, never above its own capacity, summed into battery_soc_kwh
    assert steps["garage_soc_kwh"].max() <= 10 + 1e-6 and steps["cellar_soc_kwh"].max() <= 5 + 1e-6
    assert (steps["garage_soc_kwh"] + steps["cellar_soc_kwh"] - steps["battery_soc_kwh"]).abs().max() < 1e-9
    assert (steps["garage_kw"] + steps["cellar_kw"] - steps["battery_kw"]).abs().max() < 1e-9
    assert daily["garage_cycles"].sum() > 0 and daily["cellar_cycles"].sum() > 0
    assert summary["totals"]["cellar_cycles"] == pytest.approx(float(daily["cellar_cycles"].sum()))
    assert "  cellar full cycles" in result.stdout and "  ev2 charged kWh" in result.stdout
    # the synthetic car charges what the real meter charged 7 days earlier (the runs above the threshold)
    with Store(shipped_db) as store:
        frame = store.query("""SELECT sum(energy_kwh) AS kwh FROM readings WHERE building = 'residential4'
                               AND device = 'ev' AND valid AND energy_kwh > 0.05
                               AND local_date BETWEEN DATE '2016-05-25' AND DATE '2016-05-30'""")
    copied = float(frame["kwh"][0])
    assert copied > 1.0
    assert float(daily["ev2_charge_kwh"].sum()) == pytest.approx(copied, rel=0.02)
    # the energy balance of every settled hour, every unit included
    flex = [c for c in steps.columns if c.endswith("_kw") and c not in (
        "base_load_kw", "pv_kw", "import_kw", "export_kw", "battery_kw")]
    balance = (steps["import_kw"] - steps["export_kw"] + steps["pv_kw"] - steps["base_load_kw"]
               - steps.select(pl.sum_horizontal(flex)).to_series())
    assert balance.abs().max() < 1e-6
    # the MLflow run: the fleet's size, the synthetic label, each unit's totals and its day-by-day figures
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    [run] = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run.data.params["batteries.count"] == "2" and run.data.params["evs.count"] == "2"
    assert run.data.tags["synthetic"].startswith("synthetic: residential4 ev2 is meter ev 7 days earlier")
    assert run.data.metrics["cellar_cycles"] == pytest.approx(summary["totals"]["cellar_cycles"])
    history = client.get_metric_history(run.info.run_id, "day/ev2_charge_kwh")
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx(daily["ev2_charge_kwh"].to_list())


def test_optimize_cli_schedules_two_batteries(tmp_path):
    path = tmp_path / "day.json"
    path.write_text(json.dumps(two_batteries("highs", 0.05)))
    result = run_cli("-m", "ems", "optimize", str(path))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["objective_eur"] == pytest.approx(0.50, abs=1e-6) and set(answer["storages"]) == {"a", "b"}


def test_the_service_answers_for_a_fleet(shipped_db, tmp_path):
    """The short form with battery_enabled uses every configured battery; a full request may carry any number."""
    from conftest import Server

    server = Server([f"paths.db={shipped_db}", f"paths.output_dir={tmp_path}", "battery=none",
                     "batteries=[{name: garage}, {name: cellar, capacity_kwh: 5.0}]"])
    try:
        short = {"mode": "optimize", "building_id": "residential3", "target_date": "2016-06-08",
                 "price_profile": [0.28] * 7 + [0.33] * 4 + [0.15] * 6 + [0.45] * 4 + [0.30] * 3,
                 "battery_enabled": True}
        status, body = server.call("POST", "/optimize", short)
        assert status == 200 and body["status"] == "optimal", body
        assert set(body["storages"]) == {"garage", "cellar"}
        assert max(body["storages"]["cellar"]["soc_kwh"]) <= 5.0 + 1e-6
        status, body = server.call("POST", "/optimize", two_batteries("highs", 0.05))
        assert status == 200 and body["objective_eur"] == pytest.approx(0.50, abs=1e-6)
        status, body = server.call("POST", "/optimize", two_batteries("highs", 0.05) | {"battery": battery("c", 1)})
        assert status == 422 and "battery: give either battery (one) or batteries (a list), not both" in str(body)
    finally:
        server.stop()


def test_the_schedule_plots_stack_devices_not_batteries():
    """Each battery of several has its own power column; the plots stack devices and show batteries apart."""
    from ems.dashboard.charts import schedule
    from ems.experiment.plots import day_schedule
    from ems.experiment.settlement import battery_columns

    columns = ["local_hour", "base_load_kw", "battery_kw", "battery_soc_kwh", "garage_kw", "garage_soc_kwh",
               "ev2_kw", "dishwasher_kw"]
    assert battery_columns(columns) == {"battery_kw", "garage_kw"}
    steps = pl.DataFrame({"local_date": ["2016-06-01"] * 2, "local_hour": [0, 1], "import_price_eur_kwh": [0.2, 0.3],
                          "base_load_kw": [0.5, 0.5], "pv_kw": [0.0, 1.0], "import_kw": [2.5, 0.0],
                          "export_kw": [0.0, 0.5], "battery_kw": [2.0, -1.0], "battery_soc_kwh": [2.0, 1.0],
                          "garage_kw": [2.0, -1.0], "garage_soc_kwh": [2.0, 1.0], "ev2_kw": [0.0, 0.0]})
    names = [trace.name for trace in schedule(steps, "t").data]
    assert "ev2" in names and "garage" not in names
    assert day_schedule(steps, "2016-06-01", "t", Path(tempfile.mkdtemp()) / "day.png").exists()
