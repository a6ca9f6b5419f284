"""Benchmark: all six buildings' whole records in mode=phases with battery and EV, serial and in parallel.

    python benchmarks/portfolio.py [--workers 1 2] [--backend joblib|ray] [--tracking]

Each building is one ``run_experiment`` (the same call ``run.py`` makes) over
its whole valid record (``experiment=full_period``), outputs in a temporary
folder, the shipped database reused read-only. The buildings are spread over
``--workers`` processes by joblib (loky) or by Ray (``--backend ray``, a local
Ray instance with that many CPUs). Prints building-days per second and the
speed-up over one worker for each worker count. Tracking is off unless
``--tracking`` (then every building logs to one fresh MLflow store), so the
figure is the scheduling throughput.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

BUILDINGS = [f"residential{i}" for i in range(1, 7)]


def run_building(building: str, root: str, db: str, tracking: bool) -> tuple[str, int, float]:
    """(building, days scheduled, seconds) of one building's whole record."""
    from ems.config import load_config
    from ems.experiment.runner import run_experiment

    out = Path(root) / building
    cfg = load_config([f"building={building}", "mode=phases", "battery=home", "ev=home", "experiment=full_period",
                           "forecast=perfect", "prior=household",
                       "name=bench_portfolio", f"paths.output_dir={root}", f"paths.db={db}",
                       f"tracking.enabled={str(tracking).lower()}"])
    started = time.perf_counter()
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # each run prints its KPI table
        run_experiment(cfg, out)
    seconds = time.perf_counter() - started
    days = int(json.loads((out / "summary.json").read_text())["totals"]["days"])
    return building, days, seconds


def run_all(workers: int, backend: str, db: str, tracking: bool) -> tuple[int, float, list, float]:
    """(building-days, wall seconds, per-building rows, seconds of the backend's start-up within the wall)."""
    startup = 0.0
    with tempfile.TemporaryDirectory(prefix="ems-portfolio-") as root:
        started = time.perf_counter()
        if workers == 1:
            rows = [run_building(b, root, db, tracking) for b in BUILDINGS]
        elif backend == "ray":
            import ray

            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
            startup = time.perf_counter() - started
            try:
                remote = ray.remote(run_building)
                rows = ray.get([remote.remote(b, root, db, tracking) for b in BUILDINGS])
            finally:
                ray.shutdown()
        else:
            from joblib import Parallel, delayed

            rows = Parallel(n_jobs=workers, backend="loky")(delayed(run_building)(b, root, db, tracking)
                                                             for b in BUILDINGS)
        wall = time.perf_counter() - started
    return sum(r[1] for r in rows), wall, rows, startup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--backend", choices=("joblib", "ray"), default="joblib")
    parser.add_argument("--tracking", action="store_true", help="log every building to MLflow (one new store)")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from ems.config import load_config
    from ems.data.ingest import ensure_database

    db = str(ensure_database(load_config().data))
    print(f"{len(BUILDINGS)} buildings, whole records, mode=phases battery=home ev=home, backend {args.backend}, "
          f"tracking {'on' if args.tracking else 'off'}, {os.cpu_count()} CPUs")
    serial = None
    for workers in args.workers:
        days, wall, rows, startup = run_all(workers, args.backend, db, args.tracking)
        rate = days / wall
        serial = serial or (rate if workers == 1 else None)
        speedup = f"{rate / serial:.2f}x ({rate / serial / workers:.2f} per worker)" if serial else "n/a (no 1-worker run)"
        detail = ", ".join(f"{b} {d} d {s:.1f} s" for b, d, s in rows)
        note = f" (incl. {startup:.1f} s {args.backend} start-up)" if startup else ""
        print(f"workers {workers}: {days} building-days in {wall:.1f} s{note} = {rate:.0f} building-days/s, "
              f"speed-up {speedup} | {detail}")


if __name__ == "__main__":
    main()
