"""Benchmark: wall time of the commands a user types, start to exit, as subprocesses.

    python benchmarks/startup.py [--repeats 3]

* ``python run.py mode=phases battery=home period.n_days=14``, tracking on (a new
  MLflow store each time) and off, on the shipped database (already built);
* ``python -m ems optimize DAY.json`` on a one-device real day.

Prints the median and the range of each, and the import time of the heavy
modules in a fresh interpreter (``python -X importtime``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("hydra", "mlflow", "matplotlib.pyplot", "lightgbm", "catboost", "ray", "highspy", "pulp", "polars", "duckdb",
         "pydantic", "fastapi")


def wall(args: list[str], env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def import_seconds(module: str) -> float:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True,
                         text=True, check=True).stderr.strip().splitlines()[-1]
    return int(out.split("|")[1]) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from ems.config import load_config
    from ems.data.ingest import ensure_database

    db = ensure_database(load_config().data)
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with tempfile.TemporaryDirectory(prefix="ems-startup-") as tmp:
        day = Path(tmp) / "day.json"
        day.write_text(json.dumps(real_day()))
        cases = {
            "run.py 14 days, tracking on": lambda i: wall(
                ["run.py", "mode=phases", "battery=home", "forecast=perfect", "prior=household", "period.n_days=14",
                 f"paths.db={db}",
                 f"paths.output_dir={tmp}/on{i}"], env),
            "run.py 14 days, tracking off": lambda i: wall(
                ["run.py", "mode=phases", "battery=home", "forecast=perfect", "prior=household", "period.n_days=14",
                 f"paths.db={db}",
                 f"paths.output_dir={tmp}/off{i}", "tracking.enabled=false"], env),
            "python -m ems optimize": lambda i: wall(["-m", "ems", "optimize", str(day), "--out", f"{tmp}/r{i}.json"],
                                                     env),
        }
        print(f"median of {args.repeats} (min .. max), load {os.getloadavg()[0]:.2f}")
        for label, case in cases.items():
            times = [case(i) for i in range(args.repeats)]
            print(f"{label:<32}{statistics.median(times):6.2f} s  ({min(times):.2f} .. {max(times):.2f})")
    print("import in a fresh interpreter: " + ", ".join(f"{m} {import_seconds(m):.2f} s" for m in HEAVY))


def real_day() -> dict:
    """A real day (2016-06-01 day-ahead prices + 0.20 EUR/kWh surcharges) with one dishwasher cycle."""
    import polars as pl

    prices = pl.read_csv(ROOT / "data" / "prices_de_day_ahead.csv.gz")
    start = prices["utc_timestamp"].to_list().index("2016-06-01T00:00:00Z")
    price = [round(p / 1000 + 0.20, 5) for p in prices["price_eur_mwh"][start:start + 24]]
    return {"step_hours": 1.0, "import_price_eur_kwh": price, "export_price_eur_kwh": 0.08, "pv_kw": [0.0] * 24,
            "base_load_kw": [0.4] * 24, "grid": {"max_import_kw": 24.2, "max_export_kw": 24.2},
            "devices": [{"name": "dishwasher", "flex_model": "discrete_phase", "phases_kw": [2.0, 0.1, 0.8]}]}


if __name__ == "__main__":
    main()
