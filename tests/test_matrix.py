"""The CI config matrix: every mode x battery x ev x solver (x prior for phases) on 2 real days of
residential4, each run validated and logged to a temporary MLflow store."""

from __future__ import annotations

import itertools
import json

import mlflow
import pytest

from ems.config import load_config
from ems.experiment.runner import run_experiment

MODES = ["baseline", "rule_based", "decentralized", "centralized", "phases"]
COMBOS = [(m, b, e, s, p) for m, b, e, s in itertools.product(MODES, ["none", "home"], ["none", "home"], ["highs", "cbc"])
          for p in (["uniform", "household", "learned"] if m == "phases" else ["household"])]


@pytest.fixture(scope="module")
def store(tmp_path_factory, shipped_db):
    return tmp_path_factory.mktemp("matrix"), shipped_db


@pytest.mark.parametrize("mode, battery, ev, solver, prior", COMBOS, ids=["-".join(c) for c in COMBOS])
def test_combination_runs_validates_and_logs(store, mode, battery, ev, solver, prior):
    root, db = store
    out = root / "-".join((mode, battery, ev, solver, prior))
    cfg = load_config([f"mode={mode}", f"battery={battery}", f"ev={ev}", f"solver={solver}", f"prior={prior}",
                       "building=residential4", "period.start=2016-07-11", "period.n_days=2", "name=matrix",
                       f"paths.output_dir={root}", f"paths.db={db}"])
    cost = run_experiment(cfg, out)  # every plan passes ems.optim.validate inside; a violation raises
    totals = json.loads((out / "summary.json").read_text())["totals"]
    assert totals["days"] == 2 and totals["energy_cost_eur"] == pytest.approx(cost)
    assert (out / "schedules.parquet").is_file() and (out / "day_schedule.png").is_file()
    client = mlflow.MlflowClient(cfg.tracking.uri)
    runs = client.search_runs([client.get_experiment_by_name("matrix").experiment_id],
                              filter_string=f"params.`mode.name` = '{mode}' and params.`battery.enabled` = "
                                            f"'{battery == 'home'}' and params.`solver.name` = '{solver}' and "
                                            f"params.`ev.enabled` = '{ev == 'home'}' and "
                                            f"params.`prior._target_` LIKE '%{prior.capitalize()}%'")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    history = client.get_metric_history(runs[0].info.run_id, "day/energy_cost_eur")
    assert sorted(m.step for m in history) == [0, 1]
