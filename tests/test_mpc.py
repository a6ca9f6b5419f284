"""Re-planning inside the day (ems.planning.mpc): hand-solvable cases on every solver, and real days."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run_cli
from ems.experiment.settlement import settle
from ems.optim.optimize import optimize_day
from ems.optim.request import parse_request
from ems.optim.result import energy_cost_eur
from ems.optim.solver import SOLVERS, SolverSpec
from ems.optim.validate import validate
from ems.planning.mpc import corrected, remainder, replan, splice

SOLVER_NAMES = [name for name in SOLVERS if SolverSpec(name=name).available()]


def _request(solver: str, **extra):
    # 24 hours: 0.10 EUR/kWh until noon, 0.50 after; exporting costs 0.01 EUR/kWh; forecast: no base load, no PV.
    return parse_request({"import_price_eur_kwh": [0.10] * 12 + [0.50] * 12, "export_price_eur_kwh": -0.01,
                          "base_load_kw": [0.0] * 24, "grid": {"max_import_kw": 10, "max_export_kw": 10},
                          "solver": {"name": solver}, **extra})


@pytest.mark.parametrize("solver", SOLVER_NAMES)
def test_re_planning_at_noon_spends_the_battery_on_the_load_the_morning_revealed(solver):
    # A full 5 kWh battery (lossless, 5 kW). The day-ahead forecast sees no load, so the plan leaves the
    # battery alone; the house actually draws 1 kW all day: 12 x 0.10 + 12 x 0.50 = 7.20 EUR settled.
    # Re-planned at noon with the morning's error carried on (decay 1): the battery serves 5 of the dear
    # afternoon hours, 7.20 - 5 x 0.50 = 4.70 EUR.
    request = _request(solver, battery={"capacity_kwh": 5, "max_charge_kw": 5, "max_discharge_kw": 5,
                                        "soc_init_kwh": 5})
    actual = np.ones(24)
    once = optimize_day(request)
    cost = lambda plan: float(np.dot(settle(plan, actual, np.zeros(24)).import_kw,  # noqa: E731
                                     request.import_price_eur_kwh))
    assert cost(once) == pytest.approx(7.2, abs=1e-9)
    plan, failed = replan(once, request, 12, 24, (np.zeros(24), np.zeros(24)), (actual, np.zeros(24)), 1.0,
                          lambda sub, t0: optimize_day(sub))
    assert failed == [] and cost(plan) == pytest.approx(4.7, abs=1e-9)
    assert plan.storages["battery"].soc_kwh[0] == 5 and plan.storages["battery"].soc_kwh[-1] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("solver", SOLVER_NAMES)
def test_a_cycle_running_at_the_re_plan_runs_on_and_a_waiting_one_is_planned_again(solver):
    # A 3-hour cycle (1, 2, 1 kW) and a 2-hour one (1, 1 kW), each once; cheap hours are 0-11.
    request = _request(solver, devices=[
        {"name": "washer", "flex_model": "discrete_phase", "phases_kw": [1.0, 2.0, 1.0], "earliest_start": 10},
        {"name": "dryer", "flex_model": "discrete_phase", "phases_kw": [1.0, 1.0], "earliest_start": 14},
        {"name": "pump", "flex_model": "partial_usage", "energy_kwh": 6.0, "max_kw": 1.0}])
    plan = optimize_day(request)
    assert plan.devices["washer"].starts == [10]  # 10-12: two cheap hours and one dear
    sub, running = remainder(request, plan, 11, np.zeros(13), np.zeros(13))
    assert [d.name for d in sub.devices] == ["dryer"]  # the washer runs on; the pump's 6 kWh are done
    assert running["washer"][:2].tolist() == [2.0, 1.0] and running["pump"].sum() == 0
    assert sub.base_load_kw[:2] == [2.0, 1.0] and sub.devices[0].earliest_start == 3
    new = optimize_day(sub)
    joined = splice(plan, new, 11, running)
    assert joined.devices["washer"].starts == [10] and joined.devices["dryer"].starts[0] >= 14
    validate(request, joined)  # the same forecast: the spliced plan is a schedule of the original problem...
    prices = request.import_price_eur_kwh, request.export_price_eur_kwh
    assert energy_cost_eur(joined.import_kw, joined.export_kw, *prices) == pytest.approx(plan.energy_cost_eur,
                                                                                         abs=1e-9)  # ...as cheap
    assert sum(joined.devices["washer"].power_kw) == 4.0 and sum(joined.devices["pump"].power_kw) == 6.0


def test_the_correction_fades_the_last_error():
    assert corrected(np.ones(5), np.array([3.0, 0, 0, 0, 0]), 1, 0.5).tolist() == [2.0, 1.5, 1.25, 1.125]
    assert corrected(np.ones(3), np.zeros(3), 1, 1.0).tolist() == [0.0, 0.0]  # never below 0 kW


def _cost(stdout: str) -> float:
    return float(next(line for line in stdout.splitlines() if line.startswith("energy cost EUR")).split()[-1])


def test_with_perfect_foresight_re_planning_changes_nothing_and_with_a_forecast_it_does(shipped_db, tmp_path):
    common = ["run.py", "mode=centralized", "battery=home", "ev=home", "period.start=2016-01-01", "period.n_days=14",
              "regret.enabled=false", "tracking.enabled=false", f"paths.db={shipped_db}", f"paths.output_dir={tmp_path}"]
    costs = {(f, h): _cost(run_cli(*common, f"forecast={f}", f"horizon={h}", check=True).stdout)
             for f in ("perfect", "naive") for h in ("receding", "mpc")}
    # Perfect foresight: the rest of an optimal plan is optimal for the rest (to the cent).
    assert costs["perfect", "mpc"] == pytest.approx(costs["perfect", "receding"], abs=0.011)
    assert costs["naive", "mpc"] != costs["naive", "receding"]
