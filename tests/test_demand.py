"""Demand (capacity) charges: the MILP shaves a peak exactly when it pays, a peak already set this month is
free up to its level, the validator recomputes the charge, and on real days the industrial tariff's charge
changes the plan and the bill."""

from __future__ import annotations

import json

import polars as pl
import pytest

from conftest import run_cli
from ems.optim.optimize import optimize_day
from ems.optim.request import parse_request
from ems.optim.solver import SOLVERS, SolverSpec
from ems.optim.validate import violations

SOLVER_NAMES = [name for name in SOLVERS if SolverSpec(name=name).available()]
PRICE = 0.30  # EUR/kWh, flat: only the demand charge makes the battery worth moving


def two_days(solver: str, demand: dict | None) -> dict:
    """48 h of 1 kW base load with one 5 kW hour (step 30); a lossless 2 kW battery that must end as it
    started; wear 0.01 EUR/kWh of throughput."""
    base = [1.0] * 48
    base[30] = 5.0
    data = {"import_price_eur_kwh": [PRICE] * 48, "export_price_eur_kwh": 0.0, "base_load_kw": base,
            "grid": {"max_import_kw": 20.0, "max_export_kw": 20.0}, "solver": {"name": solver},
            "battery": {"capacity_kwh": 10, "max_charge_kw": 2, "max_discharge_kw": 2, "soc_init_kwh": 5,
                        "soc_final_min_kwh": 5, "soc_min_kwh": 0, "soc_max_kwh": 10, "charge_efficiency": 1.0,
                        "discharge_efficiency": 1.0, "degradation_eur_kwh": 0.01}}
    if demand is not None:
        data["demand_charge"] = demand
    return data


@pytest.mark.parametrize("solver", SOLVER_NAMES)
@pytest.mark.parametrize("demand, peak, objective, demand_eur", [
    # no charge: the battery stays idle (wear, flat prices); 52 kWh at 0.30
    (None, 5.0, 0.30 * 52, 0.0),
    # 10 EUR/kW: discharge 2 kW at the peak, recharge 2 kWh in a 1 kW hour: peak 3 kW, wear 4 kWh x 0.01
    ({"eur_per_kw": 10.0}, 3.0, 0.30 * 52 + 0.04 + 10.0 * 3, 30.0),
    # the month's peak is already 4 kW: shaving to 4 is enough and costs 2 kWh of wear; no new charge
    ({"eur_per_kw": 10.0, "peak_so_far_kw": 4.0}, 4.0, 0.30 * 52 + 0.02, 0.0),
    # already 6 kW: the 5 kW hour is free, the battery stays idle
    ({"eur_per_kw": 10.0, "peak_so_far_kw": 6.0}, 5.0, 0.30 * 52, 0.0),
    # a charge too small to pay for the wear of shaving (0.005 EUR/kW < 0.04 EUR for 2 kW)
    ({"eur_per_kw": 0.005}, 5.0, 0.30 * 52 + 0.005 * 5, 0.025),
])
def test_peak_shaving_pays_exactly_when_the_charge_beats_the_wear(solver, demand, peak, objective, demand_eur):
    request = parse_request(two_days(solver, demand))
    result = optimize_day(request)
    assert result.ok and violations(request, result) == []
    assert max(result.import_kw) == pytest.approx(peak, abs=1e-6)
    assert result.energy_cost_eur == pytest.approx(0.30 * 52, abs=1e-6)
    assert result.demand_eur == pytest.approx(demand_eur, abs=1e-6)
    assert result.objective_eur == pytest.approx(objective, abs=1e-6)


def test_the_validator_recomputes_the_demand_charge():
    request = parse_request(two_days("highs", {"eur_per_kw": 10.0}))
    result = optimize_day(request)
    result.demand_eur, result.objective_eur = 0.0, result.objective_eur - 30.0  # a tampered, cheaper report
    assert violations(request, result) == [
        "demand_eur: reported 0.0, the peak import 3.000000 kW gives 30.000000",
        "objective_eur: reported 15.64, cost + degradation + penalty + demand = 45.640000"]


def test_a_bad_demand_charge_is_one_line():
    data = two_days("highs", {"eur_per_kw": -1.0})
    with pytest.raises(ValueError, match=r"demand_charge.eur_per_kw=-1.0"):
        parse_request(data)
    data = two_days("highs", {"eur_per_kw": 1.0, "peak_kw": 3.0})
    with pytest.raises(ValueError, match=r"demand_charge.*peak_kw"):
        parse_request(data)


def _run(tmp_path, shipped_db, name: str, *overrides: str) -> dict:
    out = tmp_path / name
    result = run_cli("run.py", "building=residential1", "period.start=2016-01-04", "period.n_days=14",
                     "mode=centralized", "forecast=perfect", "regret.enabled=false", "tracking.enabled=false",
                     f"paths.db={shipped_db}", f"hydra.run.dir={out}", *overrides)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads((out / "summary.json").read_text())["totals"] | {"stdout": result.stdout}


def test_the_industrial_tariff_shaves_residential1s_peak_on_real_days(tmp_path, shipped_db):
    rate = 82.15 / 12
    dynamic = _run(tmp_path, shipped_db, "dynamic", "battery=home", "tariff=dynamic")
    industrial = _run(tmp_path, shipped_db, "industrial", "battery=home", "tariff=industrial")
    assert "demand_charge_eur" not in dynamic and "demand charge" not in dynamic["stdout"]
    assert "demand charge EUR" in industrial["stdout"]
    # one month (January): the charge is the month's peak at the monthly rate, for plan and baseline alike
    assert industrial["demand_charge_eur"] == pytest.approx(industrial["peak_import_kw"] * rate)
    baseline_peak = max(pl.read_csv(tmp_path / "industrial" / "daily.csv")["baseline_peak_import_kw"])
    assert industrial["baseline_demand_charge_eur"] == pytest.approx(baseline_peak * rate)
    # the charge moves the plan: a lower peak, bought with energy cost the energy-only plan did not pay
    assert industrial["peak_import_kw"] < dynamic["peak_import_kw"] - 0.5
    assert industrial["energy_cost_eur"] > dynamic["energy_cost_eur"]
    assert industrial["demand_charge_eur"] + industrial["energy_cost_eur"] < \
        dynamic["peak_import_kw"] * rate + dynamic["energy_cost_eur"]
    saved = (industrial["baseline_cost_eur"] + industrial["baseline_demand_charge_eur"]
             - industrial["energy_cost_eur"] - industrial["demand_charge_eur"])
    assert industrial["savings_eur"] == pytest.approx(saved)  # savings count the demand charge
