"""Benchmark: the fast path gives the full MILP's optimum on every real replay day, over every solver.

    python benchmarks/exactness.py [--record FILE] [--check FILE] [--modes phases centralized]

Without ``--check`` it first replays residential4's whole record (battery and
EV, each mode given) and records every day request the mode hands the MILP,
with the objective found, as JSON lines (``--record``, default a temporary
file). It then solves every recorded request with each installed solver, with
``fast_path`` on and off, and prints the largest objective difference (EUR)
against the recorded value and between the two paths, how often each path
proved the optimum, and the median solve time per path. A file recorded by an
older version of ems checks that version's objectives.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from ems.optim.optimize import optimize_day
from ems.optim.request import parse_request
from ems.optim.solver import SOLVERS, SolverSpec


def record(path: Path, modes: list[str]) -> None:
    import ems.experiment.modes as modes_module
    from ems.config import load_config
    from ems.data.ingest import ensure_database
    from ems.experiment.runner import run_experiment

    original = modes_module.optimize_day
    with path.open("w") as out:
        def recording(request, settings=None):  # the modes call the MILP through this module attribute
            result = original(request, settings)
            out.write(json.dumps({"request": json.loads(request.model_dump_json()), "status": result.status,
                                  "objective": result.objective_eur}) + "\n")
            return result

        modes_module.optimize_day = recording
        db = ensure_database(load_config().data)
        try:
            for mode in modes:
                with tempfile.TemporaryDirectory(prefix="ems-exact-") as tmp:
                    cfg = load_config(["building=residential4", f"mode={mode}", "battery=home", "ev=home",
                                       "experiment=full_period", "name=bench_exactness", f"paths.output_dir={tmp}",
                                       f"paths.db={db}"])
                    run_experiment(cfg, f"{tmp}/run")
        finally:
            modes_module.optimize_day = original


def check(path: Path) -> None:
    rows = [json.loads(line) for line in path.open()]
    print(f"{len(rows)} recorded day requests ({sum(r['status'] != 'infeasible' for r in rows)} feasible)")
    for name in SOLVERS:
        if not SolverSpec(name=name).available():
            continue
        worst_recorded = worst_paths = 0.0
        paths: Counter[str] = Counter()
        seconds: dict[bool, list[float]] = {True: [], False: []}
        for row in rows:
            request = parse_request(row["request"])
            got = {}
            for fast in (True, False):
                started = time.perf_counter()
                result = optimize_day(request, SolverSpec(name=name, fast_path=fast))
                seconds[fast].append(time.perf_counter() - started)
                got[fast] = result
                if fast:
                    paths[result.path or result.status] += 1
            if (got[True].status == "infeasible") != (got[False].status == "infeasible") or \
                    (got[True].status == "infeasible") != (row["status"] == "infeasible"):
                raise SystemExit(f"feasibility differs on {request.model_dump_json()[:80]}...")
            if got[True].ok:
                worst_paths = max(worst_paths, abs(got[True].objective_eur - got[False].objective_eur))
                worst_recorded = max(worst_recorded, abs(got[True].objective_eur - row["objective"]))
        share = ", ".join(f"{k} {v}" for k, v in sorted(paths.items()))
        print(f"{name:<6} max |fast - full| {worst_paths:.2e} EUR | max |fast - recorded| {worst_recorded:.2e} EUR | "
              f"paths: {share} | median ms fast {statistics.median(seconds[True]) * 1e3:.1f}, "
              f"full {statistics.median(seconds[False]) * 1e3:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", type=Path, help="where to write the recorded requests (JSON lines)")
    parser.add_argument("--check", type=Path, help="check an existing recording instead of replaying")
    parser.add_argument("--modes", nargs="+", default=["phases", "centralized"])
    args = parser.parse_args()
    if args.check:
        check(args.check)
        return
    with tempfile.TemporaryDirectory(prefix="ems-exact-") as tmp:
        path = args.record or Path(tmp) / "requests.jsonl"
        record(path, args.modes)
        check(path)


if __name__ == "__main__":
    main()
