"""Pipeline A (experiment=compare) end to end, and what lands in MLflow."""

from __future__ import annotations

import re

import mlflow
import polars as pl

from conftest import run_cli


def test_compare_runs_every_mode_with_and_without_battery_under_one_parent(shipped_db, tmp_path):
    result = run_cli("run.py", "experiment=compare", "period.start=2016-07-11", "period.n_days=2",
                     f"paths.output_dir={tmp_path}", f"paths.db={shipped_db}", check=True)
    labels = [f"{m}/{b}" for b in ("none", "home")
              for m in ("baseline", "rule_based", "decentralized", "centralized", "phases")]
    header = next(line for line in result.stdout.splitlines() if "baseline/none" in line)
    assert header.split() == labels
    costs = next(line for line in result.stdout.splitlines() if line.startswith("energy cost EUR")).split()[3:]
    baseline_row = next(line for line in result.stdout.splitlines() if line.startswith("baseline cost EUR"))
    assert len(set(baseline_row.split()[3:])) == 1  # every mode is compared with the same baseline
    assert float(costs[labels.index("centralized/home")]) <= float(costs[labels.index("rule_based/home")])

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("compare")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(parents) == 1 and sorted(r.info.run_name for r in children) == sorted(labels)
    child = next(r for r in children if r.info.run_name == "phases/home")
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", child.data.tags["git_commit"])
    assert re.fullmatch(r"[0-9a-f]{16}", child.data.tags["data_hash"])
    assert child.data.params["building.id"] == "residential4" and child.data.params["mode.w_prob"] == "0.01"
    assert {"energy_cost_eur", "savings_eur", "pv_self_consumption_pct"} <= set(child.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
    assert {"config.yaml", "daily.csv", "schedules.parquet", "summary.json", "day_schedule.png", "daily_costs.png",
            "cumulative_savings.png"} <= artifacts
    steps = pl.read_parquet(client.download_artifacts(child.info.run_id, "schedules.parquet", str(tmp_path)))
    assert steps.height == 48 and {"import_kw", "battery_soc_kwh", "heat_pump_kw"} <= set(steps.columns)


def test_naive_forecast_costs_at_least_perfect_foresight(shipped_db, tmp_path):
    """Settlement uses the actual base load and PV, so planning on a forecast can only cost more
    than planning on the actual values (centralized, no battery: the MILP minimises exactly the settled cost)."""
    from ems.config import load_config
    from ems.experiment.runner import run_experiment

    common = ["building=residential4", "mode=centralized", "period.start=2016-06-06", "period.n_days=4",
              f"paths.output_dir={tmp_path}", f"paths.db={shipped_db}", "tracking.enabled=false"]
    run_experiment(load_config([*common, "forecast=perfect"]), tmp_path / "perfect")
    run_experiment(load_config([*common, "forecast=naive"]), tmp_path / "naive")
    perfect = pl.read_csv(tmp_path / "perfect" / "daily.csv")
    naive = pl.read_csv(tmp_path / "naive" / "daily.csv")
    # The naive forecast learns from the valid days before the period: every day is planned.
    assert naive["local_date"].to_list() == perfect["local_date"].to_list()
    joined = perfect.join(naive, on="local_date", suffix="_naive")
    assert (joined["energy_cost_eur_naive"] >= joined["energy_cost_eur"] - 1e-9).all()
    assert joined["baseline_cost_eur"].to_list() == joined["baseline_cost_eur_naive"].to_list()
    # From the building's first day there is nothing before: that day is skipped and counted, not guessed.
    first = [*common[:2], "period.start=2015-10-10", "period.n_days=4", *common[4:], "forecast=naive"]
    run_experiment(load_config(first), tmp_path / "first")
    summary = __import__("json").loads((tmp_path / "first" / "summary.json").read_text())
    assert summary["skipped"]["no history yet for the forecast"] == 1


def _logged(uri: str) -> tuple[dict, dict, set]:
    client = mlflow.MlflowClient(uri)
    run = client.search_runs([client.get_experiment_by_name("default").experiment_id])[0]
    daily = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "day/energy_cost_eur")}
    timeless = {k: v for k, v in run.data.metrics.items() if "seconds" not in k and "time" not in k}
    return timeless, daily, {a.path for a in client.list_artifacts(run.info.run_id)}


def test_recording_in_the_helper_process_and_in_process_log_the_same(shipped_db, tmp_path):
    from ems.config import load_config
    from ems.experiment.runner import run_experiment

    common = ["building=residential4", "mode=phases", "battery=home", "period.start=2016-06-06", "period.n_days=3",
              f"paths.db={shipped_db}"]
    logged = {}
    for background in ("true", "false"):
        out = tmp_path / background
        run_experiment(load_config([*common, f"paths.output_dir={out}", f"tracking.background={background}"]),
                       out / "run")
        logged[background] = _logged(f"sqlite:///{out}/mlflow.db")
        assert {"day_schedule.png", "daily_costs.png", "cumulative_savings.png"} <= {
            p.name for p in (out / "run").iterdir()}
    metrics, daily, artifacts = logged["true"]
    assert len(daily) == 3 and {"energy_cost_eur", "savings_eur"} <= set(metrics)
    assert "day_schedule.png" in artifacts
    assert logged["true"] == logged["false"]


def test_a_broken_tracking_store_is_one_line_naming_tracking_uri_and_keeps_the_outputs(shipped_db, tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli("run.py", "period.n_days=2", f"paths.output_dir={tmp_path}", f"paths.db={shipped_db}",
                     f"hydra.run.dir={run_dir}", "tracking.uri=sqlite:////proc/no-such-dir/mlflow.db")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: tracking.uri=sqlite:////proc/no-such-dir/mlflow.db: recording (start) failed: FileNotFoundError: "
        "[Errno 2] No such file or directory: '/proc/no-such-dir'")
    assert "energy cost EUR" in result.stdout  # the KPI table was printed before recording
    assert {"config.yaml", "summary.json", "daily.csv", "schedules.parquet"} <= {p.name for p in run_dir.iterdir()}


def test_a_new_store_gets_mlflows_own_schema_from_a_template_built_once(tmp_path, monkeypatch):
    import sqlite3

    from ems.mlflow_store import client, schema_template

    monkeypatch.setenv("EMS_CACHE_DIR", str(tmp_path / "cache"))

    def schema(path) -> tuple:
        """Revision, tables with their columns, and indexes (not the DDL text: MLflow's migrations write
        the values of a CHECK constraint in set order, which differs from process to process)."""
        with sqlite3.connect(path) as con:
            version = con.execute("SELECT version_num FROM alembic_version").fetchall()
            tables = [name for (name,) in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            columns = {t: con.execute(f'PRAGMA table_info("{t}")').fetchall() for t in tables}
            indexes = con.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' ORDER BY name"
                                  ).fetchall()
        return version, columns, indexes

    mlflow.MlflowClient(f"sqlite:///{tmp_path}/own.db").search_experiments()  # MLflow migrates this one itself
    client(f"sqlite:///{tmp_path}/a.db").create_experiment("x")
    template = schema_template()
    built = template.stat().st_mtime_ns
    client(f"sqlite:///{tmp_path}/b.db").search_experiments()
    assert template.stat().st_mtime_ns == built  # reused, not rebuilt
    assert schema(tmp_path / "a.db") == schema(tmp_path / "b.db") == schema(tmp_path / "own.db")
    names = [e.name for e in mlflow.MlflowClient(f"sqlite:///{tmp_path}/a.db").search_experiments()]
    assert sorted(names) == ["Default", "x"]
