"""The knobs of horizon=mpc, planning=stochastic and the satisfaction measure change the outcome on real days."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli

COMMON = ["mode=centralized", "battery=home", "period.start=2016-01-01", "period.n_days=14", "regret.enabled=false",
          "tracking.enabled=false"]


def _totals(shipped_db, tmp_path, *args: str) -> dict:
    out = tmp_path / "_".join(a.replace("=", "-") for a in args)
    run_cli("run.py", *COMMON, f"paths.db={shipped_db}", f"paths.output_dir={out}", f"hydra.run.dir={out}/run", *args,
            check=True)
    return json.loads((out / "run" / "summary.json").read_text())["totals"]


@pytest.mark.parametrize("knob", ["planning.n_scenarios=1", "planning.cvar_weight=0.5", "planning.correlation=0.0",
                                  "planning.source=errors", "planning.seed=1"])
def test_each_scenario_knob_changes_the_cost(shipped_db, tmp_path, knob):
    default = _totals(shipped_db, tmp_path, "forecast=ml", "planning=stochastic")["energy_cost_eur"]
    assert _totals(shipped_db, tmp_path, "forecast=ml", "planning=stochastic", knob)["energy_cost_eur"] != default


@pytest.mark.parametrize("knob", ["horizon.error_decay=0.0", "horizon.replan_hours=12"])
def test_each_mpc_knob_changes_the_cost(shipped_db, tmp_path, knob):
    default = _totals(shipped_db, tmp_path, "forecast=naive", "horizon=mpc")["energy_cost_eur"]
    assert _totals(shipped_db, tmp_path, "forecast=naive", "horizon=mpc", knob)["energy_cost_eur"] != default


def test_the_satisfaction_tolerance_changes_the_measure(shipped_db, tmp_path):
    one = _totals(shipped_db, tmp_path, "mode=phases")["preference_satisfaction_pct"]
    exact = _totals(shipped_db, tmp_path, "mode=phases", "replay.satisfaction_tolerance_h=0")
    wide = _totals(shipped_db, tmp_path, "mode=phases", "replay.satisfaction_tolerance_h=3")
    assert exact["preference_satisfaction_pct"] < one < wide["preference_satisfaction_pct"]
