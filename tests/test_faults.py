"""Fault injection, one test per failure the reliability probe found: nothing lost, nothing counted twice.

Truncated and header-only CSVs, concurrent ingests, ingests killed with
SIGKILL, aliased building ids under concurrent learning, a corrupt state file,
a service killed with SIGKILL while learning, and two sweeps started in the
same second. Everything runs for real: CLI processes, DuckDB files, a uvicorn
server on 127.0.0.1, MLflow sqlite stores.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import mlflow
import pytest

from conftest import DATA, ROOT, Server, run_cli

R4 = DATA / "cossmic_residential4_60min.csv.gz"
USAGE = [0] * 10 + [1, 1] + [0] * 12
DEVICE = "DE_KN_residential3_washing_machine"


def readings(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(con.execute("SELECT building, count(*) FROM readings GROUP BY building").fetchall())


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def r4_db(tmp_path) -> Path:
    db = tmp_path / "ems.duckdb"
    run_cli("-m", "ems", "data", "ingest", str(R4), "--db", str(db), check=True)
    return db


def test_a_truncated_or_header_only_file_replaces_nothing(r4_db, tmp_path):
    before = readings(r4_db)
    text = gzip.decompress(R4.read_bytes())
    cut = tmp_path / "residential4_cut.csv"
    broken = text[: len(text) * 6 // 10]  # a download broken off mid-line
    cut.write_bytes(broken)
    fields, header = broken.rsplit(b"\n", 1)[1].count(b",") + 1, text.split(b"\n", 1)[0].count(b",") + 1
    assert fields < header == 11
    result = run_cli("-m", "ems", "data", "ingest", str(cut), "--db", str(r4_db))
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: {cut}: the last line is cut off ({fields} of 11 fields and no final "
                                     f"newline), as a truncated download is; fetch the file again")
    lines = text[: len(text) * 6 // 10].rsplit(b"\n", 1)[0] + b"\n"  # cut at a line end: whole lines, 40 % fewer
    cut.write_bytes(lines)
    result = run_cli("-m", "ems", "data", "ingest", str(cut), "--db", str(r4_db))
    assert result.returncode == 2 and "would replace residential4's 149,609 readings by" in result.stderr
    assert "a larger drop than data.ingest.max_drop_share=0.1; if that is intended, ingest again with --force" in \
        result.stderr
    header = tmp_path / "header.csv"
    header.write_bytes(text.split(b"\n", 1)[0] + b"\n")
    result = run_cli("-m", "ems", "data", "ingest", str(header), "--db", str(r4_db))
    assert result.returncode == 2 and result.stderr.strip() == (f"error: {header}: a header and no data rows; give a "
                                                                f"file with readings")
    assert readings(r4_db) == before == {"residential4": 149_609}
    forced = run_cli("-m", "ems", "data", "ingest", str(cut), "--db", str(r4_db), "--force")
    assert forced.returncode == 0 and readings(r4_db)["residential4"] < 0.9 * 149_609
    assert not list(tmp_path.glob("ems.duckdb.tmp-*"))


def test_concurrent_ingests_take_turns_and_keep_both_buildings(tmp_path):
    db = tmp_path / "ems.duckdb"
    files = [DATA / "cossmic_residential1_60min.csv.gz", DATA / "cossmic_residential2_60min.csv.gz",
             DATA / "cossmic_residential5_60min.csv.gz"]
    procs = [subprocess.Popen([sys.executable, "-m", "ems", "data", "ingest", str(f), "--db", str(db)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in files]
    outcomes = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outcomes
    assert set(readings(db)) == {"residential1", "residential2", "residential5"}


def test_a_killed_ingest_leaves_the_database_intact_and_its_temp_file_is_removed(r4_db, tmp_path):
    before = readings(r4_db)
    stale = tmp_path / f"ems.duckdb.tmp-{dead_pid()}-0123abcd"
    stale.write_bytes(b"x" * 1000)  # what a SIGKILLed ingest of an older ems left
    proc = subprocess.Popen([sys.executable, "-m", "ems", "data", "ingest", "--db", str(r4_db)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not [p for p in tmp_path.glob("ems.duckdb.tmp-*") if p != stale]:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not stale.exists()  # the killed ingest had removed it when it started
    left = list(tmp_path.glob("ems.duckdb.tmp-*"))
    assert left, "the ingest was killed before writing its temp file; the test saw nothing"
    assert readings(r4_db) == before  # the old database was never touched
    run_cli("-m", "ems", "data", "ingest", str(R4), "--db", str(r4_db), check=True)
    assert not list(tmp_path.glob("ems.duckdb.tmp-*"))


@pytest.fixture
def service_overrides(shipped_db, tmp_path):
    return [f"paths.db={shipped_db}", f"paths.output_dir={tmp_path}", "service.warm=false"]


def _learn(server: Server, building: str, day: date) -> tuple[int, dict]:
    return server.call("POST", "/learn", {"building_id": building, "date": day.isoformat(),
                                          "actual_usage": {DEVICE: USAGE}})


def test_aliased_building_ids_share_one_state_under_concurrent_learning(service_overrides, tmp_path):
    server = Server(service_overrides)
    try:
        for alias in (" residential3", "residential3 ", "'residential3'", "residential3/../residential3",
                      "../battery/home", "DE_KN_residential3 ", "Residential3"):
            status, body = _learn(server, alias, date(2016, 6, 1))
            assert status == 404, (alias, body)
            assert body["detail"] == (f"building_id={alias!r}: no such building (known: residential1, residential2, "
                                      f"residential3, residential4, residential5, residential6)")
        days = [date(2016, 6, 1) + timedelta(days=i) for i in range(12)]
        posts = [(alias, day) for day in days for alias in ("residential3", "DE_KN_residential3")] * 2
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda p: _learn(server, *p), posts))
        assert {status for status, _ in answers} == {200}
        learned = [(p[1], b["learned"]) for p, (_, b) in zip(posts, answers) if b["learned"]]
        assert sorted(day for day, _ in learned) == days  # each date learned exactly once, by whichever came first
        status, pmf = server.call("GET", "/buildings/DE_KN_residential3/pmf")
        assert status == 200 and pmf["updates"]["washing_machine"] == len(days)
    finally:
        server.stop()
    state = tmp_path / "service" / "residential3_pmf.duckdb"
    with duckdb.connect(str(state), read_only=True) as con:
        rows = con.execute("SELECT day, count(*) FROM pmf_updates GROUP BY day ORDER BY day").fetchall()
    assert rows == [(d, 1) for d in days]
    assert sorted(p.name for p in (tmp_path / "service").iterdir() if "residential3" in p.name) == [
        "residential3_pmf.duckdb", "residential3_pmf.duckdb.lock"]


def test_a_corrupt_state_file_is_reported_and_refused_never_reset(service_overrides, tmp_path):
    folder = tmp_path / "service"
    folder.mkdir()
    state = folder / "residential3_pmf.duckdb"
    state.write_bytes(b"DUCK" + b"\0" * 100)  # a truncated state file
    stale = folder / f"residential4_pmf.duckdb.tmp-{dead_pid()}-89abcdef"
    stale.write_bytes(b"partial")
    server = Server(service_overrides)
    try:
        assert not stale.exists()  # temp files of dead writers are removed at start
        health = server.call("GET", "/health")[1]  # before any request loaded the building
        assert health["status"] == "degraded" and list(health["corrupt_state"]) == ["residential3"]
        status, body = _learn(server, "residential3", date(2016, 6, 1))
        assert status == 503 and body["detail"].startswith(f"building residential3: {state}: saved PMF state cannot "
                                                           f"be read (")
        assert body["detail"].endswith("restore it from a backup or move it aside to start from the prior")
        assert server.call("GET", "/buildings/residential3/pmf")[0] == 503
        health = server.call("GET", "/health")[1]
        assert health["status"] == "degraded" and list(health["corrupt_state"]) == ["residential3"]
        assert state.read_bytes() == b"DUCK" + b"\0" * 100  # never silently reset
        assert server.call("GET", "/buildings/residential4/pmf")[0] == 200  # the other buildings answer
        state.unlink()  # the operator moves it aside: the building answers again
        status, body = _learn(server, "residential3", date(2016, 6, 1))
        assert status == 200 and body["learned"] == ["washing_machine"]
        assert server.call("GET", "/health")[1]["status"] == "ok"
    finally:
        server.stop()


def test_a_service_killed_while_learning_loses_no_acknowledged_update(service_overrides, tmp_path):
    days = [date(2016, 1, 1) + timedelta(days=i) for i in range(40)]
    server = Server(service_overrides)
    acknowledged = []
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(_learn, server, "residential3", d) for d in days]
        while sum(f.done() for f in futures) < 8:
            time.sleep(0.01)
        server.kill()  # SIGKILL mid-stream
        for day, future in zip(days, futures):
            try:
                status, body = future.result()
            except OSError:
                continue
            if status == 200 and body["learned"]:
                acknowledged.append(day)
    assert len(acknowledged) >= 8
    server = Server(service_overrides)  # restart on the same state
    try:
        again = {d: _learn(server, "residential3", d)[1] for d in days}
        assert all(again[d]["already_learned"] == ["washing_machine"] for d in acknowledged)  # nothing lost
        for d in days:  # each date is in the state once: stored before the kill, or learned now
            assert (again[d]["already_learned"], again[d]["learned"]) in ((["washing_machine"], []),
                                                                          ([], ["washing_machine"]))
        assert server.call("GET", "/buildings/residential3/pmf")[1]["updates"]["washing_machine"] == len(days)
    finally:
        server.stop()
    with duckdb.connect(str(tmp_path / "service" / "residential3_pmf.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT day) FROM pmf_updates").fetchone() == (len(days), len(days))


def test_two_sweeps_started_in_the_same_second_keep_apart(shipped_db, tmp_path):
    args = [sys.executable, "run.py", "-m", "mode=baseline,rule_based", "period.n_days=2", "name=twin",
            f"paths.output_dir={tmp_path}", f"paths.db={shipped_db}"]
    procs = [subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outcomes = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outcomes
    assert not any("Callback" in err for _, err in outcomes)  # no callback failure turned into a warning
    sweeps = sorted((tmp_path / "multiruns" / "twin").iterdir())
    assert len(sweeps) == 2
    for sweep in sweeps:
        assert sorted(p.parent.name for p in sweep.glob("*/summary.json")) == ["0", "1"]
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("twin").experiment_id])
    parents = {r.info.run_id: r for r in runs if r.info.run_name == "sweep twin"}
    assert len(parents) == 2 and {r.info.status for r in parents.values()} == {"FINISHED"}
    kids = [r for r in runs if r.info.run_name != "sweep twin"]
    assert len(kids) == 4
    assert sorted(k.data.tags["mlflow.parentRunId"] for k in kids) == sorted(list(parents) * 2)
    assert {parents[k.data.tags["mlflow.parentRunId"]].data.tags["sweep_dir"] for k in kids} == {str(s) for s in sweeps}


def test_an_interrupted_sweep_closes_its_parent_run(shipped_db, tmp_path):
    proc = subprocess.Popen([sys.executable, "run.py", "-m", "period.start=2016-01-01,2016-02-01,2016-03-01,"
                             "2016-04-01", "period.n_days=20", "name=stopped", f"paths.output_dir={tmp_path}",
                             f"paths.db={shipped_db}"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob("multiruns/stopped/*/mlflow_parent_run_id")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("stopped").experiment_id])
    assert [r.info.status for r in runs if r.info.run_name == "sweep stopped"] == ["KILLED"], err


def test_the_ingest_guards_are_knobs(r4_db, tmp_path):
    text = gzip.decompress(R4.read_bytes())
    short = tmp_path / "residential4_10h.csv"
    short.write_bytes(b"\n".join(text.split(b"\n")[:11]) + b"\n")  # the header and 10 hours
    result = run_cli("-m", "ems", "data", "ingest", str(short), "--db", str(tmp_path / "short.duckdb"))
    assert result.returncode == 2 and result.stderr.strip() == (
        f"error: {short}: spans 10 hour(s), less than data.ingest.min_span_hours=24; give the whole file "
        f"(a cut-off download?)")
    run_cli("-m", "ems", "data", "ingest", str(short), "--db", str(tmp_path / "short.duckdb"),
            "--set", "data.ingest.min_span_hours=5", check=True)
    import filelock

    with filelock.FileLock(f"{r4_db}.lock"):  # an ingest in progress elsewhere
        result = run_cli("-m", "ems", "data", "ingest", str(R4), "--db", str(r4_db),
                         "--set", "data.ingest.lock_timeout_s=1")
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: {r4_db}: another ingest is writing this database (lock {r4_db}.lock "
                                     f"held for over data.ingest.lock_timeout_s=1 s); wait for it to finish")
    assert readings(r4_db) == {"residential4": 149_609}


def test_a_long_lived_solver_keeps_its_time_limit_per_solve():
    """Before: HiGHS measures ``time_limit`` against the run time its (per-thread, reused) object has summed
    over every solve, so once a process had solved MILPs for ``time_limit_s`` in total, every later MILP
    ended at once with "Time limit reached": the rest of a long replay, a sweep or the service reported
    infeasible days (a whole-record scenario replay lost half its days). Here the limit is 0.2 s and the
    thread solves two-stage MILPs (which go to the MILP solver every time) until its summed run time is
    three times that: before, 16 of 23 solves failed."""
    import numpy as np

    from ems.optim.backends import _highs
    from ems.optim.request import parse_request
    from ems.optim.scenarios import Scenario, optimize_scenarios

    hours = np.arange(24)
    request = parse_request({  # a day built for the test: PV, a battery, a cycle and an energy window
        "import_price_eur_kwh": (0.1 * (1 + (hours * 7) % 11)).tolist(), "export_price_eur_kwh": 0.05,
        "pv_kw": np.maximum(0, 3 * np.sin((hours - 6) / 12 * np.pi)).tolist(), "base_load_kw": [0.5] * 24,
        "grid": {"max_import_kw": 20, "max_export_kw": 20}, "solver": {"name": "highs", "time_limit_s": 0.2},
        "battery": {"capacity_kwh": 10, "max_charge_kw": 3, "max_discharge_kw": 3, "soc_init_kwh": 5,
                    "charge_efficiency": 0.95, "discharge_efficiency": 0.95},
        "devices": [{"name": "d", "flex_model": "discrete_phase", "phases_kw": [1.0, 2.0]},
                    {"name": "hp", "flex_model": "partial_usage", "energy_kwh": 10, "max_kw": 2}]})
    rng = np.random.default_rng(0)
    scenarios = [Scenario(0.5 * rng.uniform(0.5, 1.5, 24), np.asarray(request.pv_kw) * rng.uniform(0, 1.5, 24), 0.2)
                 for _ in range(5)]
    started, solves = _highs().getRunTime(), 0
    while _highs().getRunTime() - started < 0.6 and solves < 3000:
        result = optimize_scenarios(request, scenarios)
        assert result.status == "optimal", (solves, result.diagnosis)
        solves += 1
    assert _highs().getRunTime() - started >= 0.6  # summed run time past 3 x the limit, every solve optimal
