"""Every ``python -m ems`` subcommand run as the README shows it, and the MLflow UI server on the project's store.

Each is a subprocess: its stdout, stderr and exit code are what a script sees
(0 done, 1 infeasible, 2 bad input, 3 internal error).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, free_port, run_cli
from test_optim import day, real_prices

BIN = Path(sys.executable).parent


def no_noise(stderr: str) -> None:
    """No progress bar or solver banner in output that is not a terminal."""
    assert "\r" not in stderr and "it/s" not in stderr and "Running HiGHS" not in stderr


def test_data_ingest_and_info(tmp_path):
    db = tmp_path / "fresh.duckdb"
    ingest = run_cli("-m", "ems", "data", "ingest", "--db", str(db))
    assert ingest.returncode == 0, ingest.stderr
    assert ingest.stdout.startswith("ingested 6 building(s) [residential1, residential2, residential3, residential4, "
                                    "residential5, residential6], 753,187 readings")
    no_noise(ingest.stderr)
    info = run_cli("-m", "ems", "data", "info", "--db", str(db))
    assert info.returncode == 0, info.stderr
    lines = info.stdout.splitlines()
    assert lines[0] == (f"{db}: sources 8, buildings 6, devices 39, readings 753,187, prices 44,567, "
                        f"weather 52,584")
    assert lines[4].startswith("residential4: 9 devices, 2015-10-10 16:00:00 .. 2018-02-04 23:00:00 UTC; "
                               "dishwasher:discrete_phase ev:ev")
    assert info.stderr == ""
    broken = tmp_path / "broken.duckdb"
    broken.write_text("not a database")
    bad = run_cli("-m", "ems", "data", "info", "--db", str(broken))
    assert bad.returncode == 2
    assert bad.stderr.startswith(f"error: {broken}: cannot be opened as an ems database")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_optimize_piped_to_a_json_parser(tmp_path):
    path = tmp_path / "day.json"
    path.write_text(json.dumps(day(real_prices("2016-06-01"), "highs", devices=[
        {"name": "dishwasher", "flex_model": "discrete_phase", "phases_kw": [2.0, 0.1, 0.8]}])))
    piped = subprocess.run(f"{sys.executable} -m ems optimize {path} | {sys.executable} -c "
                           f"'import json, sys; print(json.load(sys.stdin)[\"status\"])'", shell=True, cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and piped.stdout == "optimal\n" and piped.stderr == ""


def test_cycles(shipped_db):
    result = run_cli("-m", "ems", "cycles", "residential4", "--set", f"paths.db={shipped_db}")
    assert result.returncode == 0, result.stderr
    names = [line.split()[1] for line in result.stdout.splitlines()]
    assert names == ["dishwasher", "washing_machine"]
    assert all(line.startswith("residential4 ") and "phases_kw=[" in line for line in result.stdout.splitlines())
    no_noise(result.stderr)


def test_package_then_predict_from_the_registry(shipped_db, tmp_path):
    result = run_cli("-m", "ems", "package", "building=residential3", f"paths.db={shipped_db}",
                     f"paths.output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("registered as residential3_scheduler")
    requirements = next(tmp_path.glob("mlartifacts/**/requirements.txt")).read_text().split()
    assert {"highspy", "pydantic", "numpy", "polars"} <= {r.split("==")[0] for r in requirements}


def test_an_internal_error_is_one_line_and_exit_3_unless_debug(tmp_path):
    # Fault injection for the stated purpose: a handler that raises what no input can cause.
    script = ("import sys, ems.cli as cli\n"
              "def boom(args): raise RuntimeError('boom')\n"
              "cli._info = boom\n"
              "sys.exit(cli.main(sys.argv[1:]))\n")
    plain = run_cli("-c", script, "data", "info")
    assert plain.returncode == 3
    assert plain.stderr == "error: internal error in data: RuntimeError: boom (rerun with --debug for the traceback)\n"
    debug = run_cli("-c", script, "--debug", "data", "info")
    assert debug.returncode == 3 and "Traceback (most recent call last)" in debug.stderr


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_mlflow_server_shows_the_default_experiments_run(shipped_db, tmp_path):
    run = run_cli("run.py", "period.n_days=3", f"paths.output_dir={tmp_path}", f"paths.db={shipped_db}")
    assert run.returncode == 0, run.stderr
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}
    server = subprocess.Popen([str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{tmp_path}/mlflow.db",
                               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=5) as response:
                    assert response.read() == b"OK"
                break
            except OSError:
                assert server.poll() is None and time.time() < deadline, server.stdout.read().decode()[-2000:]
                time.sleep(0.5)
        experiments = post(url + "/api/2.0/mlflow/experiments/search", {"max_results": 100})["experiments"]
        default = next(e for e in experiments if e["name"] == "default")
        runs = post(url + "/api/2.0/mlflow/runs/search", {"experiment_ids": [default["experiment_id"]]})["runs"]
        assert len(runs) == 1 and runs[0]["info"]["status"] == "FINISHED"
        metrics = {m["key"]: m["value"] for m in runs[0]["data"]["metrics"]}
        assert metrics["days"] == 3 and "energy_cost_eur" in metrics
        with urllib.request.urlopen(url + "/", timeout=30) as response:  # the UI itself is served
            assert response.status == 200 and b"<html" in response.read().lower()
    finally:
        server.terminate()
        server.wait(timeout=30)
