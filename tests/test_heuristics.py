"""The seed's heuristics (mode=seed_heuristic) on hand-computed cases: the battery stores PV surplus first,
arbitrages only when the spread beats losses and wear, the EV charges in three phases; the validator
rejects a tampered heuristic schedule; on real days it runs, differs from the price-quartile rule and its
knobs change the outcome."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from ems.optim.heuristics import SeedRules, seed_heuristic_schedule
from ems.optim.request import parse_request
from ems.optim.validate import violations

BATTERY = {"capacity_kwh": 10, "max_charge_kw": 2, "max_discharge_kw": 2, "soc_init_kwh": 0,
           "soc_final_min_kwh": 0, "soc_min_kwh": 0, "soc_max_kwh": 10, "charge_efficiency": 1.0,
           "discharge_efficiency": 1.0, "degradation_eur_kwh": 0.01}


def request(prices, base, pv=None, **parts):
    n = len(prices)
    return parse_request({"import_price_eur_kwh": prices, "export_price_eur_kwh": 0.0, "base_load_kw": base,
                          "pv_kw": pv or [0.0] * n, "grid": {"max_import_kw": 20, "max_export_kw": 20}, **parts})


def test_the_battery_stores_pv_surplus_first_and_covers_the_house_with_it():
    r = request([0.3] * 4, [1.0] * 4, pv=[0.0, 3.0, 0.0, 0.0], battery=BATTERY)
    res = seed_heuristic_schedule(r)
    assert violations(r, res) == []
    assert res.storages["battery"].charge_kw == [0.0, 2.0, 0.0, 0.0]       # 2 of the 2 kW surplus (max_charge_kw)
    assert res.storages["battery"].discharge_kw == [0.0, 0.0, 1.0, 1.0]    # then the house's deficit at >= median price
    assert res.import_kw == [1.0, 0.0, 0.0, 0.0] and res.energy_cost_eur == pytest.approx(0.3)


@pytest.mark.parametrize("wear, charge, cost", [
    (0.01, [2.0, 0.0, 0.0, 0.0], 0.1 * 2 + 0.5 * 2),   # 0.5 x 1.0 - 2 x 0.01 = 0.48 > 0.10: buy 2 kWh cheap
    (0.25, [0.0, 0.0, 0.0, 0.0], 0.5 * 4),             # 0.5 - 2 x 0.25 = 0.00 < 0.10: arbitrage loses, none
])
def test_arbitrage_only_when_the_spread_beats_losses_and_wear(wear, charge, cost):
    r = request([0.1, 0.1, 0.5, 0.5], [0.0, 0.0, 2.0, 2.0], battery=BATTERY | {"degradation_eur_kwh": wear})
    res = seed_heuristic_schedule(r)
    assert violations(r, res) == []
    assert res.storages["battery"].charge_kw == charge
    assert res.energy_cost_eur == pytest.approx(cost)


def test_the_ev_charges_in_three_phases():
    prices = [0.5, 0.1, 0.4, 0.3, 0.2, 0.6, 0.35, 0.45]
    ev = {"capacity_kwh": 24, "max_charge_kw": 4, "charge_efficiency": 1.0,
          "sessions": [{"soc_init_kwh": 0, "soc_target_kwh": 8, "arrival_step": 0, "deadline_step": 8}]}
    r = request(prices, [0.0] * 8, pv=[0, 0, 0, 0, 0, 0, 1.0, 0], ev=ev)
    res = seed_heuristic_schedule(r)
    assert violations(r, res) == []
    # 1: 4 kWh (50 % of 8) in the cheapest quarter (steps 1, 4): step 1 full; 2: up to 95 % (7.6 kWh) just
    # in time: 3.6 at the last step; 3: the last 0.4 kWh in the cheapest 10 % (step 1, full) or PV surplus
    # (step 6), not in the cheaper step 4
    assert res.storages["ev"].charge_kw == pytest.approx([0, 4.0, 0, 0, 0, 0, 0.4, 3.6])
    cheapest_only = SeedRules(opportunity_share=1.0, critical_frac=1.0)
    assert seed_heuristic_schedule(r, cheapest_only).storages["ev"].charge_kw == pytest.approx([0, 4.0, 0, 0, 4.0, 0, 0, 0])


def test_the_validator_rejects_a_tampered_heuristic_schedule():
    r = request([0.1, 0.1, 0.5, 0.5], [0.0, 0.0, 2.0, 2.0], battery=BATTERY)
    res = seed_heuristic_schedule(r)
    res.storages["battery"].soc_kwh[-1] += 1.0  # a battery that ends with energy it never charged
    assert any(v.startswith("battery:") for v in violations(r, res)), violations(r, res)


def test_a_battery_below_its_floor_is_infeasible_naming_it():
    r = request([0.3] * 2, [1.0] * 2, battery=BATTERY | {"soc_init_kwh": 1, "soc_final_min_kwh": 2})
    res = seed_heuristic_schedule(r)
    assert res.status == "infeasible" and res.diagnosis[0].startswith("battery: starts at 1 kWh, below")


def test_bad_rules_are_one_line():
    with pytest.raises(ValueError, match=r"mode.late_quantile=2: must be a fraction in \[0, 1\]"):
        SeedRules(late_quantile=2)


def _replay(tmp_path, shipped_db, name, *overrides):
    out = tmp_path / name
    result = run_cli("run.py", "building=residential4", "period.start=2016-11-15", "period.n_days=7",
                     "battery=home", "ev=home", "forecast=perfect", "regret.enabled=false", "tracking.enabled=false",
                     f"paths.db={shipped_db}", f"hydra.run.dir={out}", *overrides)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads((out / "summary.json").read_text())


def test_on_real_days_it_differs_from_the_price_rule_and_its_knobs_matter(tmp_path, shipped_db):
    seed = _replay(tmp_path, shipped_db, "seed", "mode=seed_heuristic")
    rule = _replay(tmp_path, shipped_db, "rule", "mode=rule_based")
    cheapest = _replay(tmp_path, shipped_db, "cheapest", "mode=seed_heuristic", "mode.opportunity_quantile=1",
                       "mode.opportunity_share=1")  # the EV in its cheapest hours, no phases
    assert seed["infeasible"] == {} and seed["totals"]["days"] == 7
    costs = [s["totals"]["energy_cost_eur"] for s in (seed, rule, cheapest)]
    assert len({round(c, 6) for c in costs}) == 3, costs
    assert seed["totals"]["battery_cycles"] > 0
