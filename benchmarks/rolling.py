"""Benchmark: replay every day of residential4 in mode=phases with battery and EV.

The workload is the replay and its MILPs (``forecast=perfect``, ``prior=household``, as
before those stopped being the defaults): forecaster training is not part of it.

    python benchmarks/rolling.py [extra Hydra overrides ...]

Prints the number of days, milliseconds per day, the run's seconds (the
replay, writing, plots and MLflow logging, i.e. ``run_experiment`` until its
recorder is done), the script's seconds (its imports included), and the peak
memory (max RSS) of this process and of its helper. Outputs and the MLflow
store go to a temporary folder (a new store, as a first run's); the shipped
database is reused (built on first use).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

from ems.config import load_config  # noqa: E402
from ems.data.ingest import ensure_database  # noqa: E402
from ems.experiment.runner import run_experiment  # noqa: E402


def main(extra: list[str]) -> None:
    db = ensure_database(load_config().data)
    with tempfile.TemporaryDirectory(prefix="ems-bench-") as tmp:
        cfg = load_config(["building=residential4", "mode=phases", "battery=home", "ev=home", "experiment=full_period",
                           "forecast=perfect", "prior=household",
                           "name=bench_rolling", f"paths.output_dir={tmp}", f"paths.db={db}", *extra])
        started = time.perf_counter()
        run_experiment(cfg, f"{tmp}/run")
        seconds = time.perf_counter() - started
        days = int(__import__("json").load(open(f"{tmp}/run/summary.json"))["totals"]["days"])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    helper_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"days {days} | {seconds / max(days, 1) * 1000:.1f} ms per day | run {seconds:.1f} s | "
          f"script {time.perf_counter() - STARTED:.1f} s | peak memory {peak_mb:.0f} MB (helper {helper_mb:.0f} MB)")


if __name__ == "__main__":
    main(sys.argv[1:])
