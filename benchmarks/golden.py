"""Golden KPI totals: a fixed set of real runs, through the user-facing commands only.

    python benchmarks/golden.py [--out golden.json] [--root PATH]

Runs (tracking off, a temporary outputs folder):
* every mode x battery none/home x ev none/home on residential4, 2016-06-01 + 14 days;
* ``experiment=compare`` on residential3 (2016-04-01 + 61 days);
* the optimizer benchmark day (residential4 2016-07-12) through ``python -m ems optimize``;
* the service's seed payloads (short form, battery on/off) against a real server on 127.0.0.1.

Prints one line per figure and writes them as JSON, so two checkouts (before and
after a change) can be compared with ``--compare before.json after.json``.
Only commands a user types are used, so the script outlives refactors.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

KEYS = ("energy_cost_eur", "baseline_cost_eur", "savings_eur", "kwh_shifted", "battery_cycles",
        "preference_satisfaction_pct", "days_scheduled", "days_infeasible", "peak_import_kw")
MODES = ("baseline", "rule_based", "decentralized", "centralized", "phases")


def _run(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "HYDRA_FULL_ERROR": "1"}
    done = subprocess.run([sys.executable, *args], cwd=root, capture_output=True, text=True, env=env)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{args} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


def _totals(folder: Path) -> dict:
    data = json.loads((folder / "summary.json").read_text())["totals"]
    return {k: round(float(data[k]), 4) for k in KEYS if k in data and data[k] is not None}


def replay_grid(root: Path, out: Path) -> dict:
    figures = {}
    _run(root, "run.py", "-m", f"mode={','.join(MODES)}", "battery=none,home", "ev=none,home",
         "period.start=2016-06-01", "period.n_days=14", "tracking.enabled=false", f"paths.output_dir={out}",
         "hydra.sweep.dir=" + str(out / "grid"))
    for cfg in sorted((out / "grid").glob("*/.hydra/overrides.yaml")):
        job = cfg.parent.parent
        label = " ".join(line.removeprefix("- ").strip() for line in cfg.read_text().splitlines()
                         if line.startswith("- ") and "=" in line and not line.startswith(("- period", "- tracking",
                                                                                           "- paths")))
        figures[f"residential4 14d {label}"] = _totals(job)
    return figures


def compare(root: Path, out: Path) -> dict:
    run_dir = out / "compare"
    _run(root, "run.py", "experiment=compare", "building=residential3", "tracking.enabled=false",
         f"paths.output_dir={out}", f"hydra.run.dir={run_dir}")
    return {f"residential3 compare {p.parent.name}/{p.name}": _totals(p)
            for p in sorted(run_dir.glob("*/*")) if (p / "summary.json").is_file()}


def optimizer_day(root: Path, out: Path, day_json: Path) -> dict:
    result = out / "result.json"
    _run(root, "-m", "ems", "optimize", str(day_json), "--out", str(result))
    data = json.loads(result.read_text())
    return {"optimizer day 2016-07-12": {k: round(data[k], 6) for k in ("energy_cost_eur", "objective_eur")}}


def service(root: Path, out: Path) -> dict:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    server = subprocess.Popen([sys.executable, "-m", "ems", "serve", "--port", str(port), "--set",
                               f"paths.output_dir={out}"], cwd=root, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    figures = {}
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        prices = [0.28] * 7 + [0.33] * 4 + [0.25] * 6 + [0.35] * 4 + [0.3] * 3
        for building in ("residential3", "residential4"):
            for battery in (True, False):
                body = {"mode": "optimize", "building_id": f"DE_KN_{building}", "target_date": "2025-06-08",
                        "price_profile": prices, "battery_enabled": battery, "ev_enabled": False}
                req = urllib.request.Request(f"http://127.0.0.1:{port}/optimize", json.dumps(body).encode(),
                                             {"content-type": "application/json"})
                data = json.loads(urllib.request.urlopen(req, timeout=60).read())
                figures[f"service {building} battery={battery}"] = {
                    k: round(data[k], 6) for k in ("energy_cost_eur", "objective_eur")}
    finally:
        server.terminate()
        server.wait(10)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--out", type=Path, default=Path("golden.json"))
    parser.add_argument("--day-json", type=Path, required=False, help="the optimizer benchmark day as a request")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(p.read_text()) for p in args.compare)
        for key in sorted(set(before) | set(after)):
            a, b = before.get(key, {}), after.get(key, {})
            diff = {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
            print(f"{'same' if not diff else 'DIFF'}  {key}" + (f"  {diff}" if diff else ""))
        return
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        figures.update(replay_grid(args.root, out))
        figures.update(compare(args.root, out))
        if args.day_json:
            figures.update(optimizer_day(args.root, out, args.day_json.resolve()))
        figures.update(service(args.root, out))
    for key, values in figures.items():
        print(key, values)
    args.out.write_text(json.dumps(figures, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
