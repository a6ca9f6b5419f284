"""Cost, savings, bound and regret per building, forecast, horizon and planning over each building's whole valid record.

    python benchmarks/regret.py [--buildings residential1 residential3 residential4]
                                [--forecasts perfect naive ml] [--horizons day receding]
                                [--plannings deterministic stochastic] [--mode centralized] [--set KEY=VALUE ...]

Runs ``run.py experiment=full_period`` with the home battery and EV (tracking off, a
temporary outputs folder) as a user would, and prints one line per run: energy and
baseline cost, savings, the perfect-foresight bound, the regret and its split into
forecast and horizon, the forecasts' skill against naive, and the run's wall time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = {"energy cost EUR": "cost", "baseline cost EUR": "baseline", "savings EUR": "savings",
        "bound (perfect foresight) EUR": "bound", "regret EUR": "regret", "of it: forecast EUR": "forecast",
        "of it: horizon EUR": "horizon", "base load skill vs naive %": "base_skill", "PV skill vs naive %": "pv_skill",
        "days scheduled": "days"}


def run(building: str, forecast: str, horizon: str, planning: str, mode: str, out: Path, extra: list[str]
        ) -> dict[str, str]:
    args = [sys.executable, "run.py", "experiment=full_period", f"building={building}", f"forecast={forecast}",
            f"horizon={horizon}", f"planning={planning}", f"mode={mode}", "battery=home", "ev=home", "tracking.enabled=false", f"paths.output_dir={out}", *extra]
    started = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[1:])} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    figures = {"seconds": f"{time.perf_counter() - started:.0f}"}
    for line in done.stdout.splitlines():
        name = line[:36].strip()
        if name in ROWS:
            figures[ROWS[name]] = line[36:].strip()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", nargs="+", default=["residential1", "residential3", "residential4"])
    parser.add_argument("--forecasts", nargs="+", default=["perfect", "naive", "ml"])
    parser.add_argument("--horizons", nargs="+", default=["day", "receding"])
    parser.add_argument("--plannings", nargs="+", default=["deterministic", "stochastic"])
    parser.add_argument("--mode", default="centralized")
    parser.add_argument("--set", dest="extra", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    columns = ["days", "cost", "baseline", "savings", "bound", "regret", "forecast", "horizon", "base_skill",
               "pv_skill", "seconds"]
    print(f"{'building':<14}{'forecast':<10}{'horizon':<10}{'planning':<15}" + "".join(f"{c:>11}" for c in columns))
    with tempfile.TemporaryDirectory() as tmp:
        for building in args.buildings:
            for forecast in args.forecasts:
                for horizon in args.horizons:
                    for planning in args.plannings:
                        figures = run(building, forecast, horizon, planning, args.mode, Path(tmp), args.extra)
                        print(f"{building:<14}{forecast:<10}{horizon:<10}{planning:<15}" +
                              "".join(f"{figures.get(c, 'n/a'):>11}" for c in columns), flush=True)


if __name__ == "__main__":
    main()
