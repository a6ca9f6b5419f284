"""The heat pump as a thermal load (kind ``thermal``, ``heating=thermal``): the 1R1C comfort band on a
hand-solved case over every installed solver, the validator, the precheck, the rules, the receding and
multi-day placements, the fit, and on real January days: the band kept where the quota breaks it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from conftest import run_cli
from ems.optim.kinds import THERMAL
from ems.optim.kinds.thermal import deviation_k
from ems.optim.optimize import optimize_day
from ems.optim.request import parse_request
from ems.optim.solver import SOLVERS, SolverSpec
from ems.optim.validate import violations
from ems.planning.heating import Heating, HeatPumpFit, fit_heat_pump

SOLVER_NAMES = [name for name in SOLVERS if SolverSpec(name=name).available()]

#: H = 1 kW/K and C = 1 / ln 2 kWh/K: a = exp(-dt H / C) = 1/2 and g = (1 - a) / H = 1/2 K per kW, so
#: dev1 = p0 - 1 and dev2 = dev1 / 2 + p1 - 1 with COP 2 and 2 kWh of heat needed in each hour.
HOUSE = {"flex_model": "thermal", "name": "hp", "heat_kwh": [2.0, 2.0], "cop": [2.0, 2.0], "max_kw": 10.0,
         "loss_kw_per_k": 1.0, "capacity_kwh_per_k": 1.0 / math.log(2.0), "deviation_min_k": -1.0,
         "deviation_max_k": 1.0}


def request(prices=(1.0, 3.0), solver: str = "highs", **device) -> dict:
    return {"import_price_eur_kwh": list(prices), "grid": {"max_import_kw": 20.0, "max_export_kw": 0.0},
            "devices": [HOUSE | device], "solver": {"name": solver}}


@pytest.mark.parametrize("solver", SOLVER_NAMES)
def test_pre_heating_in_the_cheap_hour_is_the_hand_solved_optimum(solver):
    # min p0 + 3 p1 s.t. -1 <= p0 - 1 <= 1 and dev2 = (p0 - 1)/2 + p1 - 1 >= 0 (the final deviation):
    # p1 = 1.5 - p0/2, cost 4.5 - p0/2 -> p0 = 2 (the band's top), p1 = 0.5: 3.5 EUR for 2.5 kWh, where
    # following the path (1 kW each hour) costs 4 EUR for 2 kWh: pre-heating pays its extra losses.
    r = parse_request(request(solver=solver))
    result = optimize_day(r)
    assert result.ok and violations(r, result) == []
    assert result.devices["hp"].power_kw == pytest.approx([2.0, 0.5], abs=1e-6)
    assert result.objective_eur == pytest.approx(3.5, abs=1e-6)
    assert deviation_k(r.devices[0], np.array([2.0, 0.5]), 1.0) == pytest.approx([0.0, 1.0, 0.0])


@pytest.mark.parametrize("solver", SOLVER_NAMES)
def test_a_narrower_band_and_a_warm_hour_move_the_optimum(solver):
    # band +-0.5 K: p0 <= 1.5, so p1 = 1.5 - 0.75 = 0.75: 1.5 + 2.25 = 3.75 EUR
    narrow = optimize_day(parse_request(request(solver=solver, deviation_min_k=-0.5, deviation_max_k=0.5)))
    assert narrow.devices["hp"].power_kw == pytest.approx([1.5, 0.75], abs=1e-6)
    assert narrow.objective_eur == pytest.approx(3.75, abs=1e-6)
    # flat prices, COP 4 in the second hour: dev2 = (p0 - 1)/2 + 2 p1 - 1 >= 0 (heat 2 kWh at COP 4 = 0.5 kW)
    # -> coast in the first hour at the band's bottom (p0 = 0, dev1 = -1) and make it up cheaply: p1 = 0.75
    warm = optimize_day(parse_request(request(prices=(1.0, 1.0), solver=solver, cop=[2.0, 4.0])))
    assert warm.devices["hp"].power_kw == pytest.approx([0.0, 0.75], abs=1e-6)
    assert warm.objective_eur == pytest.approx(0.75, abs=1e-6)


def test_the_validator_catches_a_tampered_thermal_schedule():
    r = parse_request(request())
    result = optimize_day(r)
    result.devices["hp"].power_kw = [2.0, 0.4]  # 0.1 kW less in the dear hour: the house ends 0.1 K cold
    result.import_kw = [2.0, 0.4]
    result.energy_cost_eur = result.objective_eur = 2.0 + 1.2
    assert violations(r, result) == ["hp: comfort band: ends at -0.1000 K < deviation_final_min_k=0"]
    result.devices["hp"].power_kw = result.import_kw = [3.0, 0.0]  # 2 K warm after the first hour
    result.energy_cost_eur = result.objective_eur = 3.0
    assert violations(r, result) == ["hp: comfort band: deviation 2.0000 K at step 1 outside [-1, 1] K"]


def test_an_undersized_heat_pump_is_diagnosed_by_device_and_constraint():
    result = optimize_day(parse_request(request(max_kw=0.2)))
    assert not result.ok
    # at 0.2 kW (0.4 kW of heat) dev1 = -0.8 K and dev2 = -0.4 - 0.8 = -1.2 K: out of the band by step 2
    assert result.diagnosis == ["hp: comfort band: even at max_kw=0.2 in [0, 2) the deviation falls to -1.2 K "
                                "< deviation_min_k=-1 by step 2"]
    with pytest.raises(ValueError, match=r"devices\[0\].cop: has 1 values, heat_kwh has 2 \(one per step each\)"):
        parse_request(request(cop=[2.0]))
    with pytest.raises(ValueError, match=r"devices\[0\].heat_kwh: has 3 values, expected 2 \(one per step\)"):
        parse_request(request(heat_kwh=[2.0] * 3, cop=[2.0] * 3))
    with pytest.raises(ValueError, match="band must hold the comfort path"):
        parse_request(request(deviation_min_k=0.5))


def test_the_thermostat_rule_follows_the_path_and_the_remainder_carries_the_deviation():
    r = parse_request(request())
    from ems.optim.result import DayResult
    out = DayResult(status="optimal")
    assert THERMAL.rule_schedule(r, r.devices[0], np.array([1.0, 3.0]), np.zeros(2), out) is None
    assert out.devices["hp"].power_kw == pytest.approx([1.0, 1.0])  # heat / COP: the deviation stays 0
    # after the optimum's first hour the house is 1 K warm: the rest of the day needs only 0.5 kW
    left, running = THERMAL.remainder(r.devices[0], optimize_day(r).devices["hp"], 1)
    assert left.deviation_init_k == pytest.approx(1.0) and list(running) == [0.0]
    rest = optimize_day(parse_request({**request(prices=(3.0,)), "devices": [left.model_dump()]}))
    assert rest.devices["hp"].power_kw == pytest.approx([0.5], abs=1e-6)


def test_two_days_placed_in_one_horizon_cost_twice_one_day():
    day = parse_request(request()).devices[0]
    placed = [THERMAL.placed(day, 0, 4).model_copy(update={"name": "a"}),
              THERMAL.placed(day, 2, 4).model_copy(update={"name": "b"})]
    assert placed[1].heat_kwh == [0.0, 0.0, 2.0, 2.0] and (placed[1].earliest_start, placed[1].latest_end) == (2, 4)
    result = optimize_day(parse_request({**request(prices=(1.0, 3.0, 1.0, 3.0)),
                                         "devices": [d.model_dump() for d in placed]}))
    assert result.objective_eur == pytest.approx(7.0, abs=1e-6)


def test_the_fit_recovers_a_known_building_and_refuses_too_few_days():
    settings = Heating({"devices": ["heat_pump"], "time_constant_h": 48, "band_k": 1, "cop_ref": 3,
                        "reference_temp_c": 7, "cop_min": 1, "heating_below_c": 12, "min_fit_days": 30,
                        "cop_slope_max": 0.08}).settings
    temp = np.linspace(-8.0, 11.0, 60)  # built for this test: energies from the model itself
    energy = 24 * 0.06 * (16.0 - temp) / (1 + 0.03 * (temp - 7.0))
    fit = fit_heat_pump("heat_pump", [f"d{i}" for i in range(60)], energy, temp, settings)
    assert (fit.loss_kw_per_k_el, fit.balance_temp_c, fit.cop_slope_per_k) == pytest.approx((0.06, 16.0, 0.03),
                                                                                             rel=1e-4)
    assert fit.r2 == pytest.approx(1.0) and fit.n_days == 60 and fit.cop_slope_free_per_k == pytest.approx(0.03, rel=1e-4)
    # a house whose energy falls faster than linearly towards warm days: the physical bound s >= 0 holds the
    # fit, and the unconstrained slope says what the data alone give
    concave = 24 * 0.06 * (16.0 - temp) / (1 - 0.02 * (temp - 7.0))
    held = fit_heat_pump("heat_pump", [f"d{i}" for i in range(60)], concave, temp, settings)
    assert held.cop_slope_per_k == pytest.approx(0.0, abs=1e-9) and held.cop_slope_free_per_k == pytest.approx(-0.02,
                                                                                                             rel=1e-3)
    assert "(at its bound 0), unconstrained -2.00 +- 0.00 %/K" in held.describe()
    with pytest.raises(ValueError, match=r"heating: heat_pump: 20 heating days .* fewer than heating.min_fit_days=30"):
        fit_heat_pump("heat_pump", [f"d{i}" for i in range(20)], energy[:20], temp[:20], settings)
    with pytest.raises(ValueError, match=r"heating\.settings\.band=2: Extra inputs are not permitted"):
        Heating({**settings.model_dump(), "band": 2})


def test_the_cop_level_scales_heat_but_not_the_schedule():
    def plan(cop_ref: float) -> list[float]:
        heating = Heating({"devices": ["heat_pump"], "time_constant_h": 10, "band_k": 1, "cop_ref": cop_ref,
                           "reference_temp_c": 7, "cop_min": 0.5, "heating_below_c": 12, "min_fit_days": 30,
                           "cop_slope_max": 0.08},
                          {"heat_pump": HeatPumpFit("heat_pump", 0.1, 16.0, 0.03, 60, "a", "b", 0.0, 1.0)})
        device = heating.device("hp", "heat_pump", np.array([1.0, 1.0, 1.0, 1.0]), np.array([0.0, 0.0, 8.0, 8.0]), 3.0)
        r = parse_request({"import_price_eur_kwh": [0.2, 0.3, 0.3, 0.2], "devices": [device.model_dump()],
                           "grid": {"max_import_kw": 10.0, "max_export_kw": 0.0}})
        return optimize_day(r).devices["hp"].power_kw
    assert plan(3.0) == pytest.approx(plan(4.5), abs=1e-6)
    assert plan(3.0) != pytest.approx([1.0, 1.0, 1.0, 1.0], abs=1e-3)  # it does move the energy


def _run(tmp_path, shipped_db, name: str, *overrides: str) -> dict:
    out = tmp_path / name
    result = run_cli("run.py", "building=residential4", "period.start=2017-01-09", "period.n_days=4",
                     "mode=centralized", "forecast=perfect", "tracking.enabled=false", f"paths.db={shipped_db}",
                     f"hydra.run.dir={out}", *overrides)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    return summary["totals"] | {"stdout": result.stdout, "heating": summary.get("heating")}


def test_on_real_january_days_the_thermal_plan_keeps_the_band_the_quota_breaks(tmp_path, shipped_db):
    quota = _run(tmp_path, shipped_db, "quota", "heating=quota")
    thermal = _run(tmp_path, shipped_db, "thermal", "heating=thermal")
    plain = _run(tmp_path, shipped_db, "plain")
    assert "comfort band violation K h" in thermal["stdout"] and "comfort" not in plain["stdout"]
    assert "heating thermal (1R1C fitted, band +-1 K, time constant 48 h assumed)" in thermal["stdout"]
    assert thermal["heating"][0].startswith("heat_pump: H_el=") and "time constant 48 h (assumed)" in \
        thermal["heating"][1] and plain["heating"] is None
    # the quota plan is the plain one (heating=quota only measures it) and leaves the band
    assert quota["energy_cost_eur"] == pytest.approx(plain["energy_cost_eur"])
    assert quota["comfort_violation_kh"] > 5 and quota["deviation_min_k"] < -1.5
    assert thermal["comfort_violation_kh"] == pytest.approx(0.0, abs=1e-6)
    assert -1 - 1e-6 <= thermal["deviation_min_k"] and thermal["deviation_max_k"] <= 1 + 1e-6
    assert -1 <= thermal["deviation_mean_k"] <= 1 and quota["deviation_mean_k"] != pytest.approx(0.0, abs=1e-3)
    # the bound joins the days' thermal devices: it can only be as cheap as the plan or cheaper
    assert thermal["bound_cost_eur"] <= thermal["energy_cost_eur"] + 1e-6
    assert thermal["heat_pump_kwh"] == pytest.approx(quota["heat_pump_kwh"], rel=0.15)


def test_the_band_and_the_time_constant_change_real_plans(tmp_path, shipped_db):
    thermal = _run(tmp_path, shipped_db, "thermal", "heating=thermal")
    narrow = _run(tmp_path, shipped_db, "narrow", "heating=thermal", "heating.settings.band_k=0.5")
    slow = _run(tmp_path, shipped_db, "slow", "heating=thermal", "heating.settings.time_constant_h=96")
    assert -0.5 - 1e-6 <= narrow["deviation_min_k"] and narrow["deviation_max_k"] <= 0.5 + 1e-6
    assert thermal["deviation_max_k"] > 0.5 + 1e-3  # the wider band is used
    assert narrow["energy_cost_eur"] > thermal["energy_cost_eur"] + 1e-3  # less room, dearer
    assert slow["energy_cost_eur"] < thermal["energy_cost_eur"] - 1e-3  # more thermal mass, cheaper
    assert narrow["comfort_violation_kh"] == pytest.approx(0.0, abs=1e-6)
    assert slow["comfort_violation_kh"] == pytest.approx(0.0, abs=1e-6)


def test_the_service_refuses_a_heating_group_instead_of_ignoring_it(shipped_db):
    result = run_cli("-m", "ems", "serve", "--port", "0", "--set", "heating=thermal", "--set", f"paths.db={shipped_db}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: heating: the service plans a heat pump as its typical daily quota (a typical day has no metered "
        "comfort path); leave heating unset, or send a thermal device in a full /optimize request"]


def test_a_thermal_device_in_a_day_request_file(tmp_path):
    day = tmp_path / "day.json"
    day.write_text(json.dumps(request()))
    result = run_cli("-m", "ems", "optimize", str(day))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["status"] == "optimal" and answer["objective_eur"] == pytest.approx(3.5, abs=1e-6)
    assert answer["devices"]["hp"]["power_kw"] == pytest.approx([2.0, 0.5], abs=1e-6)
