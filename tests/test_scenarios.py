"""Two-stage scenario planning (ems.optim.scenarios, ems.planning.scenarios) on hand-solvable cases and real days."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from conftest import run_cli
from ems.optim.backends import session
from ems.optim.optimize import optimize_day
from ems.optim.request import parse_request
from ems.optim.scenarios import Scenario, build_scenario_model, expected_cost_eur, optimize_scenarios
from ems.optim.solver import SOLVERS, SolverSpec
from ems.planning.scenarios import Stochastic

SOLVER_NAMES = [name for name in SOLVERS if SolverSpec(name=name).available()]


def _request(solver: str, pv_point: float):
    # Two hours at 0.25 and 0.30 EUR/kWh, nothing paid for export; one 1 kW, 1-hour appliance run.
    return parse_request({"import_price_eur_kwh": [0.25, 0.30], "export_price_eur_kwh": 0.0, "pv_kw": [0.0, pv_point],
                          "grid": {"max_import_kw": 10, "max_export_kw": 10}, "solver": {"name": solver},
                          "devices": [{"name": "washer", "flex_model": "discrete_phase", "phases_kw": [1.0]}]})


def _sunny(p_cloudy: float) -> list[Scenario]:
    """Hour 2 is cloudy (no PV) with probability ``p_cloudy``, else sunny (2 kW, more than the run needs)."""
    return [Scenario(np.zeros(2), np.array([0.0, 0.0]), p_cloudy),
            Scenario(np.zeros(2), np.array([0.0, 2.0]), 1 - p_cloudy)]


@pytest.mark.parametrize("solver", SOLVER_NAMES)
def test_the_appliance_start_hedges_against_the_scenarios(solver):
    # Point forecast 0.3 kW in hour 2: a deterministic plan runs there (0.7 x 0.30 = 0.21 < 0.25 EUR).
    # Cloudy with probability 0.85: running in hour 2 costs 0.85 x 0.30 = 0.255 EUR expected, hour 1 0.25 EUR.
    request = _request(solver, 0.3)
    assert optimize_day(request).devices["washer"].starts == [1]
    plan = optimize_scenarios(request, _sunny(0.85))
    assert plan.devices["washer"].starts == [0] and plan.energy_cost_eur == pytest.approx(0.25, abs=1e-9)
    built = build_scenario_model(request, _sunny(0.85))
    solved = session(built.model.matrix(), request.solver).mip()
    assert solved.objective == pytest.approx(0.25, abs=1e-9)
    assert expected_cost_eur(built, solved.x) == pytest.approx([0.25, 0.25], abs=1e-9)


@pytest.mark.parametrize("solver", SOLVER_NAMES)
def test_cvar_avoids_the_bad_tail_that_the_expectation_accepts(solver):
    # Cloudy with probability 0.7: hour 2 costs 0.21 EUR expected (< 0.25), but 0.30 in the worst 50 %.
    request = _request(solver, 0.3)
    expected = optimize_scenarios(request, _sunny(0.7))
    assert expected.devices["washer"].starts == [1]
    built = build_scenario_model(request, _sunny(0.7), cvar_weight=1.0, cvar_alpha=0.5)
    solved = session(built.model.matrix(), request.solver).mip()
    assert solved.objective == pytest.approx(0.25, abs=1e-9)  # CVaR_0.5 of hour 1's [0.25, 0.25]
    assert optimize_scenarios(request, _sunny(0.7), cvar_weight=1.0, cvar_alpha=0.5).devices["washer"].starts == [0]


def test_one_scenario_equal_to_the_forecast_is_the_deterministic_plan():
    request = _request("highs", 0.3)
    same = [Scenario(np.asarray(request.base_load_kw), np.asarray(request.pv_kw), 1.0)]
    assert optimize_scenarios(request, same).energy_cost_eur == pytest.approx(optimize_day(request).energy_cost_eur)


def test_bad_scenarios_are_one_line_errors():
    request = _request("highs", 0.3)
    with pytest.raises(ValueError, match="sum to 1"):
        build_scenario_model(request, [Scenario(np.zeros(2), np.zeros(2), 0.5)])
    with pytest.raises(ValueError, match=r"scenarios\[0\]: 3 base and 3 PV steps, the request has 2"):
        build_scenario_model(request, [Scenario(np.zeros(3), np.zeros(3), 1.0)])
    with pytest.raises(ValueError, match="planning.n_scenarios=0"):
        Stochastic(n_scenarios=0)


def test_scenarios_follow_the_quantiles_and_are_reproducible():
    class Forecast:  # a forecast with quantiles, built for the test: P10 = 0, P50 = 1, P90 = 2 kW every hour
        base_kw = pv_kw = np.ones(24)
        base_q = pv_q = {0.1: np.zeros(24), 0.5: np.ones(24), 0.9: np.full(24, 2.0)}

    planner = Stochastic(n_scenarios=400, correlation=0.0)
    drawn = planner.draw(Forecast(), date(2016, 1, 1), 24)
    values = np.concatenate([s.base_kw for s in drawn])
    assert abs(np.mean(values <= 1.0) - 0.5) < 0.03 and abs(np.mean(values <= 0.0 + 1e-12) - 0.1) < 0.03
    again = Stochastic(n_scenarios=400, correlation=0.0).draw(Forecast(), date(2016, 1, 1), 24)
    assert all(np.array_equal(a.base_kw, b.base_kw) for a, b in zip(drawn, again))
    assert sum(s.probability for s in drawn) == pytest.approx(1.0)


def _cost(stdout: str) -> float:
    return float(next(line for line in stdout.splitlines() if line.startswith("energy cost EUR")).split()[-1])


def test_stochastic_planning_changes_the_plan_on_real_days_but_not_under_perfect_foresight(shipped_db, tmp_path):
    common = ["run.py", "mode=centralized", "battery=home", "period.start=2016-01-01", "period.n_days=21",
              "regret.enabled=false", "tracking.enabled=false", f"paths.db={shipped_db}", f"paths.output_dir={tmp_path}"]
    costs = {(forecast, planning): _cost(run_cli(*common, f"forecast={forecast}", f"planning={planning}",
                                                 check=True).stdout)
             for forecast in ("perfect", "naive") for planning in ("deterministic", "stochastic")}
    assert costs["perfect", "deterministic"] == costs["perfect", "stochastic"]  # no error, no scenario spread
    assert costs["naive", "deterministic"] != costs["naive", "stochastic"]
