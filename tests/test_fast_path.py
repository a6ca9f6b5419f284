"""The fast path (LP first, LP branch and bound, binaries only where needed) proves the full MILP's optimum.

Each condition under which a storage's direction binary may be left out is
broken once (negative prices, a loss-free battery, an export limit below PV +
discharge); the binary must then be in the model, and the fast path must give
the full binary MILP's answer, on every installed solver.
"""

from __future__ import annotations

import numpy as np
import pytest

from ems.optim.milp import build_model
from ems.optim.optimize import optimize_day
from ems.optim.request import parse_request
from ems.optim.solver import SolverSpec
from ems.optim.validate import violations

from test_optim import SOLVER_NAMES, day, real_prices

BATTERY = {"capacity_kwh": 10.0, "max_charge_kw": 5.0, "max_discharge_kw": 5.0, "soc_init_kwh": 5.0,
           "soc_final_min_kwh": 5.0, "soc_min_kwh": 1.0, "soc_max_kwh": 10.0, "charge_efficiency": 0.95,
           "discharge_efficiency": 0.95, "degradation_eur_kwh": 0.05}
# A sunny day shape built for these tests (kW): PV from 6 to 18 h peaking at 4 kW, a 0.6 kW house.
PV = [0.0] * 6 + [4.0 * np.sin(np.pi * (h - 5.5) / 13) for h in range(6, 18)] + [0.0] * 6
CYCLE = {"name": "dishwasher", "flex_model": "discrete_phase", "phases_kw": [2.0, 0.1, 0.8]}


@pytest.fixture(params=SOLVER_NAMES)
def solver(request) -> str:
    return request.param


def both_ways(data: dict, solver: str):
    """(fast, full) results of one request, each checked by the validator."""
    request = parse_request(data)
    fast = optimize_day(request, SolverSpec(name=solver))
    full = optimize_day(request, SolverSpec(name=solver, fast_path=False))
    for result in (fast, full):
        if result.ok:
            assert violations(request, result) == []
    assert full.path in ("milp_full", "")
    return request, fast, full


def battery_binaries(request) -> np.ndarray:
    """Steps at which the light model keeps the battery's direction binary."""
    pair = next(p for p in build_model(request).pairs if p.name == "battery")
    return np.flatnonzero(pair.binary >= 0)


def sunny_day(solver: str, **change) -> dict:
    return day(real_prices("2016-06-01"), solver, pv_kw=PV, base_load_kw=[0.6] * 24, export_price_eur_kwh=0.08,
               devices=[CYCLE], battery=BATTERY, **change)


def test_all_conditions_hold_no_battery_binary_and_the_same_optimum(solver):
    request, fast, full = both_ways(sunny_day(solver), solver)
    assert len(battery_binaries(request)) == 0
    assert len(np.flatnonzero(next(p for p in build_model(request, full=True).pairs if p.name == "battery").binary
                              >= 0)) == 24
    assert fast.path in ("lp", "lp_branch", "milp")
    assert fast.objective_eur == pytest.approx(full.objective_eur, abs=1e-7)


def test_negative_prices_keep_the_binary_where_they_are_and_the_same_optimum(solver):
    prices = real_prices("2016-06-01")
    cheap = [p - 0.25 if 10 <= h < 14 else p for h, p in enumerate(prices)]  # four hours below zero
    assert [h for h, p in enumerate(cheap) if p < 0] == [10, 11, 12, 13]
    request, fast, full = both_ways({**sunny_day(solver), "import_price_eur_kwh": cheap}, solver)
    assert battery_binaries(request).tolist() == [10, 11, 12, 13]
    assert fast.objective_eur == pytest.approx(full.objective_eur, abs=1e-7)


def test_a_negative_export_price_cannot_be_dodged_by_burning_energy_in_the_battery(solver):
    # One hour, 2 kW of PV that may not be curtailed, a full battery, export at -0.10 EUR/kWh. Charging 2 kW
    # while discharging 1.62 kW would keep the SOC and export only 1.62 kW; the binary forbids it, so the
    # optimum exports all 2 kW: +0.20 EUR.
    full_battery = {**BATTERY, "soc_init_kwh": 10.0, "soc_final_min_kwh": 1.0, "degradation_eur_kwh": 0.0,
                    "charge_efficiency": 0.9, "discharge_efficiency": 0.9}
    data = day([0.30], solver, pv_kw=[2.0], base_load_kw=[0.0], export_price_eur_kwh=[-0.10],
               pv_curtailable=False, battery=full_battery)
    request, fast, full = both_ways(data, solver)
    assert battery_binaries(request).tolist() == [0]
    for result in (fast, full):
        assert result.energy_cost_eur == pytest.approx(0.20, abs=1e-7)
        assert result.storages["battery"].charge_kw == pytest.approx([0.0], abs=1e-7)


def test_a_loss_free_battery_keeps_every_binary_and_the_same_optimum(solver):
    ideal = {**BATTERY, "degradation_eur_kwh": 0.0, "charge_efficiency": 1.0, "discharge_efficiency": 1.0}
    request, fast, full = both_ways({**sunny_day(solver), "battery": ideal}, solver)
    assert len(battery_binaries(request)) == 24
    assert fast.objective_eur == pytest.approx(full.objective_eur, abs=1e-7)
    charge, discharge = np.asarray(fast.storages["battery"].charge_kw), np.asarray(fast.storages["battery"].discharge_kw)
    assert np.minimum(charge, discharge).max() <= 1e-7


def test_an_export_limit_below_pv_plus_discharge_keeps_the_binary_and_the_same_answer(solver):
    request, fast, full = both_ways({**sunny_day(solver), "grid": {"max_import_kw": 20.0, "max_export_kw": 6.0}},
                                    solver)
    pv = np.asarray(PV)
    assert battery_binaries(request).tolist() == np.flatnonzero(6.0 <= pv + 5.0).tolist()
    assert fast.objective_eur == pytest.approx(full.objective_eur, abs=1e-7)
    # 2 kW of PV, 1 kW export limit, no curtailment, a nearly full battery: only burning energy in the battery
    # (charge 2.89 kW while discharging 1.89 kW) could take the surplus, so the day is infeasible both ways.
    tight = day([0.30], solver, pv_kw=[2.0], base_load_kw=[0.0], export_price_eur_kwh=[0.05], pv_curtailable=False,
                grid={"max_import_kw": 20.0, "max_export_kw": 1.0},
                battery={**BATTERY, "soc_init_kwh": 9.5, "soc_final_min_kwh": 1.0, "charge_efficiency": 0.9,
                         "discharge_efficiency": 0.9})
    request, fast, full = both_ways(tight, solver)
    assert battery_binaries(request).tolist() == [0]
    assert fast.status == full.status == "infeasible"


def test_a_fractional_relaxation_is_branched_to_the_hand_optimum(solver):
    # PV 1 kW at steps 0 and 2 (export earns nothing), import 1 EUR/kWh, a 2-step cycle drawing 1 then 2 kW.
    # Either start imports 2 kWh (2 EUR); half of each would import only 1.5 kWh, so the LP bound is 1.5.
    data = day([1.0, 1.0, 1.0], solver, pv_kw=[1.0, 0.0, 1.0],
               devices=[{"name": "cycle", "flex_model": "discrete_phase", "phases_kw": [1.0, 2.0]}])
    request = parse_request(data)
    for settings, path in ((SolverSpec(name=solver, max_lp_nodes=8), "lp_branch"),
                           (SolverSpec(name=solver, max_lp_nodes=0), "milp"),
                           (SolverSpec(name=solver, fast_path=False), "milp_full")):
        result = optimize_day(request, settings)
        assert (result.path, result.status) == (path, "optimal")
        assert result.objective_eur == pytest.approx(2.0, abs=1e-9)
        assert violations(request, result) == []


def test_an_integral_relaxation_is_accepted_as_the_optimum(solver):
    prices = real_prices("2016-06-01")
    result = optimize_day(parse_request(day(prices, solver, devices=[CYCLE])), SolverSpec(name=solver))
    assert result.path == "lp"
    best = min(sum(p * w for p, w in zip(prices[k:k + 3], CYCLE["phases_kw"])) for k in range(22))
    assert result.objective_eur == pytest.approx(best, abs=1e-9)


def test_simultaneous_flows_in_the_light_model_fall_back_to_the_full_milp(solver, monkeypatch):
    # Fault injection: pretend the proof allowed dropping the binary in the burning case above. The light
    # model's optimum then charges and discharges at once; the check must catch it and solve the full MILP.
    import ems.optim.kinds.storage as storage

    monkeypatch.setattr(storage, "needs_direction", lambda m, steps, *args: np.full(len(steps), m.full))
    full_battery = {**BATTERY, "soc_init_kwh": 10.0, "soc_final_min_kwh": 1.0, "degradation_eur_kwh": 0.0,
                    "charge_efficiency": 0.9, "discharge_efficiency": 0.9}
    data = day([0.30], solver, pv_kw=[2.0], base_load_kw=[0.0], export_price_eur_kwh=[-0.10],
               pv_curtailable=False, battery=full_battery)
    for nodes in (0, 8):
        result = optimize_day(parse_request(data), SolverSpec(name=solver, max_lp_nodes=nodes))
        assert (result.path, result.status) == ("milp_full", "optimal")
        assert result.energy_cost_eur == pytest.approx(0.20, abs=1e-7)
