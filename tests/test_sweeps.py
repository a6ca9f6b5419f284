"""Sweeps end to end: Optuna with a sqlite study, a joblib grid, a local Ray instance, the report."""

from __future__ import annotations

import sqlite3

import mlflow
import pytest

from conftest import run_cli

SMALL = ["period.n_days=15", "learner.train_days=15"]


def children(uri: str, experiment: str) -> tuple[list, list]:
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    parents = [r for r in runs if r.info.run_name.startswith("sweep ")]
    kids = [r for r in runs if r.data.tags.get("mlflow.parentRunId") in {p.info.run_id for p in parents}]
    return parents, kids


@pytest.mark.slow
def test_optuna_sweep_and_joblib_grid_with_report(shipped_db, tmp_path):
    common = [f"paths.output_dir={tmp_path}", f"paths.db={shipped_db}", *SMALL]
    run_cli("run.py", "-m", "sweep=learning_rates", "hydra.sweeper.n_trials=4", *common, check=True)
    with sqlite3.connect(tmp_path / "optuna.db") as con:
        trials = con.execute("SELECT t.number, v.value FROM trials t JOIN trial_values v USING (trial_id) "
                             "WHERE t.state = 'COMPLETE'").fetchall()
        study = con.execute("SELECT study_name FROM studies").fetchall()
    assert len(trials) == 4 and study == [("learning_rates_residential4",)]
    # Running the same command again resumes the stored study: 4 more trials in the same study.
    run_cli("run.py", "-m", "sweep=learning_rates", "hydra.sweeper.n_trials=4", *common, check=True)
    with sqlite3.connect(tmp_path / "optuna.db") as con:
        assert con.execute("SELECT count(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0] == 8
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    parents, kids = children(uri, "learning_rates")
    assert len(parents) == 2 and len(kids) == 8
    assert all(p.info.status == "FINISHED" for p in parents)

    run_cli("run.py", "-m", "sweep=learning_rates_grid", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
            "learner.settings.lr_tau=5,20", "learner.settings.lr_max=0.05,0.10", *common, check=True)
    parents, kids = children(uri, "learning_rates_grid")
    assert len(parents) == 1 and len(kids) == 4
    assert {(k.data.params["learner.settings.lr_tau"], k.data.params["learner.settings.lr_max"]) for k in kids} == {
        ("5", "0.05"), ("5", "0.1"), ("20", "0.05"), ("20", "0.1")}
    report = run_cli("-m", "ems", "report", "learning_rates_grid", "--set", f"paths.output_dir={tmp_path}",
                     check=True)
    out = tmp_path / "reports" / "learning_rates_grid"
    assert {"runs.csv", "runs.md", "best_trials.png", "lr_heatmap.png"} <= {p.name for p in out.iterdir()}
    best = max(kids, key=lambda k: k.data.metrics["learning_score"])
    assert "runs by learning_score (highest first)" in report.stdout
    assert best.info.run_id in (out / "runs.md").read_text().splitlines()[4]


@pytest.mark.slow
def test_a_failed_job_is_reported_the_sweep_goes_on_and_exits_non_zero(shipped_db, tmp_path):
    result = run_cli("run.py", "-m", "period.start=2016-03-01,2030-01-01", "period.n_days=2", "name=failing",
                     f"paths.output_dir={tmp_path}", f"paths.db={shipped_db}")
    assert "job failed: period.start=2030-01-01: building residential4 has no readings" in result.stderr + result.stdout
    failed = list((tmp_path / "multiruns" / "failing").glob("*/1/FAILED"))
    assert len(failed) == 1 and "2030-01-01" in failed[0].read_text()
    assert list((tmp_path / "multiruns" / "failing").glob("*/0/summary.json"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: 1 of 2 sweep jobs failed (jobs 1;")
    parents, kids = children(f"sqlite:///{tmp_path}/mlflow.db", "failing")
    assert [p.info.status for p in parents] == ["FAILED"] and len(kids) == 1
    assert parents[0].data.metrics == {"jobs": 2.0, "jobs_failed": 1.0}


@pytest.mark.slow
def test_preference_sweep_draws_a_pareto_front(shipped_db, tmp_path):
    common = [f"paths.output_dir={tmp_path}", f"paths.db={shipped_db}", "period.n_days=5"]
    run_cli("run.py", "-m", "sweep=preference", "hydra.sweeper.n_trials=6", *common, check=True)
    run_cli("-m", "ems", "report", "preference", "--set", f"paths.output_dir={tmp_path}", check=True)
    out = tmp_path / "reports" / "preference"
    assert (out / "pareto_front.png").is_file()
    front = (out / "pareto_front.csv").read_text().splitlines()
    assert len(front) >= 2  # header + at least one non-dominated trial


@pytest.mark.slow
def test_sweep_on_a_local_ray_instance(shipped_db, tmp_path):
    run_cli("run.py", "-m", "sweep=learning_rates_grid", "hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=2",
            "learner.settings.lr_tau=5,20", "learner.settings.lr_max=0.05", "period.n_days=10",
            "learner.train_days=10", f"paths.output_dir={tmp_path}", f"paths.db={shipped_db}", check=True)
    parents, kids = children(f"sqlite:///{tmp_path}/mlflow.db", "learning_rates_grid")
    assert len(parents) == 1 and len(kids) == 2
    assert all(k.info.status == "FINISHED" and "learning_score" in k.data.metrics for k in kids)
