"""Benchmark: replay every day of residential4 in mode=phases with battery and EV.

    python benchmarks/rolling.py [extra Hydra overrides ...]

Prints the number of days, seconds per day, total seconds and the process's
peak memory (max RSS). Outputs and the MLflow run go to a temporary folder;
the shipped database is reused (built on first use).
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time

from ems.config import load_config
from ems.data.ingest import ensure_database
from ems.experiment.runner import run_experiment


def main(extra: list[str]) -> None:
    db = ensure_database(load_config().data)
    with tempfile.TemporaryDirectory(prefix="ems-bench-") as tmp:
        cfg = load_config(["building=residential4", "mode=phases", "battery=home", "ev=home", "experiment=full_period",
                           "name=bench_rolling", f"paths.output_dir={tmp}", f"paths.db={db}", *extra])
        started = time.perf_counter()
        run_experiment(cfg, f"{tmp}/run")
        seconds = time.perf_counter() - started
        days = int(__import__("json").load(open(f"{tmp}/run/summary.json"))["totals"]["days"])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"days {days} | {seconds / max(days, 1) * 1000:.1f} ms per day | total {seconds:.1f} s | "
          f"peak memory {peak_mb:.0f} MB")


if __name__ == "__main__":
    main(sys.argv[1:])
