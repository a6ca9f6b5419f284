"""The cost of comfort: a w_prob sweep of mode=phases beside mode=centralized, and its Pareto front.

    python benchmarks/preference_front.py [--buildings residential4 residential3] [--start 2016-01-01]
                                          [--days 60] [--weights 0 0.02 0.05 0.1 0.2 0.5 1 2] [--set KEY=VALUE ...]

Runs ``run.py`` as a user would (the defaults: prior=learned, forecast=ml; theta=0 so that only the
penalty w_prob x (1 - P) decides, tracking off, a temporary outputs folder) and prints per run the
energy cost, the preference satisfaction (scheduled starts within 1 h of the household's own start
of that run that day), the starts in the PMF's hours, and whether the point is on the Pareto front
(no other run is both cheaper or as cheap and at least as satisfying, one of them strictly).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(building: str, mode: str, extra: list[str], out: Path, start: str, days: int) -> dict:
    run_dir = out / f"{building}_{mode}_{len(list(out.iterdir()))}"
    args = [sys.executable, "run.py", f"building={building}", f"mode={mode}", f"period.start={start}",
            f"period.n_days={days}", "regret.split=false", "tracking.enabled=false", f"paths.output_dir={out}",
            f"hydra.run.dir={run_dir}", *extra]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[1:])} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads((run_dir / "summary.json").read_text())["totals"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", nargs="+", default=["residential4", "residential3"])
    parser.add_argument("--start", default="2016-01-01")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--weights", nargs="+", type=float, default=[0, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2])
    parser.add_argument("--set", dest="extra", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    print(f"{'building':<14}{'run':<22}{'cost EUR':>10}{'satisfaction %':>16}{'in PMF hours %':>16}"
          f"{'regret EUR':>12}  front")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for building in args.buildings:
            rows = [("centralized", run(building, "centralized", args.extra, out, args.start, args.days))]
            rows += [(f"phases w_prob={w:g}", run(building, "phases", ["mode.theta=0", f"mode.w_prob={w}", *args.extra],
                                                  out, args.start, args.days)) for w in args.weights]
            points = [(round(t["energy_cost_eur"], 2), round(t["preference_satisfaction_pct"], 1)) for _, t in rows]
            for (label, t), (cost, sat) in zip(rows, points):
                dominated = any((c <= cost and s >= sat) and (c < cost or s > sat) for c, s in points)
                print(f"{building:<14}{label:<22}{cost:>10.2f}{sat:>16.1f}{t['starts_in_pmf_pct']:>16.1f}"
                      f"{t.get('regret_eur', float('nan')):>12.2f}  {'' if dominated else 'yes'}", flush=True)
            front = {p for p in points if not any((c <= p[0] and s >= p[1]) and (c < p[0] or s > p[1])
                                                  for c, s in points)}
            print(f"{building:<14}{len(front)} distinct points on the front", flush=True)


if __name__ == "__main__":
    main()
