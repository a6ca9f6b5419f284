"""Build and solve time per planning step (one day's plan) for each horizon and scenario count, through run.py.

    python benchmarks/horizon.py [--building residential4] [--days 60] [--mode centralized] [--forecast ml]

Runs ``run.py`` (home battery and EV, tracking off, a temporary outputs folder) with
``horizon=day`` (24 h), ``horizon=receding`` (36 and 48 h), ``horizon=mpc`` (36 h, re-planned
every 6 h: a day's figure is its four solves together), and ``planning=stochastic`` with
N = 1, 5 and 10 scenarios at 24 and 36 h, and prints per row the median and the 95th percentile
of the per-day model build and solve seconds from the run's ``daily.csv``, the energy cost and
the regret.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
HORIZONS = {"day 24 h": ["horizon=day"], "receding 36 h": ["horizon=receding"],
            "receding 48 h": ["horizon=receding", "horizon.hours=48"], "mpc 36 h / 6 h": ["horizon=mpc"]}
HORIZONS |= {f"{label} N={n}": [*overrides, "planning=stochastic", f"planning.n_scenarios={n}"]
             for label, overrides in (("day 24 h", ["horizon=day"]), ("receding 36 h", ["horizon=receding"]))
             for n in (1, 5, 10)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--building", default="residential4")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--start", default="2016-01-01")
    parser.add_argument("--mode", default="centralized")
    parser.add_argument("--forecast", default="ml", help="ml has the quantiles the scenarios are drawn from")
    args = parser.parse_args()
    print(f"{'horizon':<22}{'build p50 ms':>14}{'build p95 ms':>14}{'solve p50 ms':>14}{'solve p95 ms':>14}"
          f"{'cost EUR':>11}{'regret EUR':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, overrides in HORIZONS.items():
            run_dir = Path(tmp) / re.sub(r"[^A-Za-z0-9]+", "_", label)
            command = [sys.executable, "run.py", f"building={args.building}", f"mode={args.mode}", "battery=home",
                       "ev=home", f"forecast={args.forecast}", f"period.start={args.start}", f"period.n_days={args.days}", "tracking.enabled=false",
                       f"paths.output_dir={tmp}", f"hydra.run.dir={run_dir}", *overrides]
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                                  env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
            if done.returncode != 0:
                raise SystemExit(f"{label} failed:\n{done.stderr[-2000:]}")
            daily = pl.read_csv(run_dir / "daily.csv")
            totals = json.loads((run_dir / "summary.json").read_text())["totals"]
            q = lambda c, p: 1000 * float(daily[c].quantile(p))  # noqa: E731
            print(f"{label:<22}{q('build_seconds', 0.5):>14.1f}{q('build_seconds', 0.95):>14.1f}"
                  f"{q('solve_seconds', 0.5):>14.1f}{q('solve_seconds', 0.95):>14.1f}"
                  f"{totals['energy_cost_eur']:>11.2f}{totals.get('regret_eur', float('nan')):>12.2f}", flush=True)


if __name__ == "__main__":
    main()
