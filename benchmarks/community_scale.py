"""Benchmark: the joint community MILP's build and solve time per day for 2, 4 and 6 buildings.

    python benchmarks/community_scale.py [--days 30] [--start 2016-06-01] [--battery none|home] [--solver highs]

Real days of the six Konstanz households (their common valid days from
``--start``), each building with every flexible device and, with
``--battery home``, a home battery each (the SOC starts from the configured
level each day: this measures the solve, not the replay). Prints per size the
columns, binaries, the median and largest solve time and the median build time
per day, and the same for the buildings solved one by one (the alone plans).
"""

from __future__ import annotations

import argparse
import statistics
import time

from ems.config import load_config
from ems.data.ingest import ensure_database
from ems.experiment.community import common_days, members_of
from ems.optim.community import optimize_community
from ems.optim.kinds.grid import Grid
from ems.optim.optimize import optimize_day

ALL = [f"residential{i}" for i in range(1, 7)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="local days from --start (common valid days are used)")
    parser.add_argument("--start", default="2016-06-01")
    parser.add_argument("--battery", default="none", choices=["none", "home"])
    parser.add_argument("--solver", default="highs")
    args = parser.parse_args()
    cfg = load_config(["experiment=community", f"period.start={args.start}", f"period.n_days={args.days}",
                       f"battery={args.battery}", f"solver={args.solver}", "tracking.enabled=false"])
    ensure_database(cfg.data)
    connection = Grid(max_import_kw=cfg.community.max_import_kw, max_export_kw=cfg.community.max_export_kw)
    members = members_of(cfg, ALL)
    days = list(common_days(cfg, members, {}))
    print(f"{len(days)} common days from {args.start}, battery={args.battery}, solver={args.solver}, "
          f"connection {connection.max_import_kw:g} kW")
    print(f"{'buildings':>9} {'columns':>8} {'binaries':>8} {'joint median s':>15} {'joint max s':>12} "
          f"{'build median s':>15} {'alone (sum) median s':>21}")
    for size in (2, 4, 6):
        names = ALL[:size]
        solve, build, alone, columns, binaries = [], [], [], 0, 0
        for _, problems, buy, sell in days:
            requests = {n: members[n].joint.request(problems[n].needs, buy, sell) for n in names}
            result = optimize_community(requests, connection)
            if not result.ok:
                raise SystemExit(f"joint schedule failed: {result.diagnosis}")
            solve.append(result.solve_seconds)
            build.append(result.build_seconds)
            columns = max(columns, result.n_variables)
            binaries = max(binaries, result.n_binaries)
            started = time.perf_counter()
            for r in requests.values():
                optimize_day(r)
            alone.append(time.perf_counter() - started)
        print(f"{size:>9} {columns:>8} {binaries:>8} {statistics.median(solve):>15.3f} {max(solve):>12.3f} "
              f"{statistics.median(build):>15.3f} {statistics.median(alone):>21.3f}")


if __name__ == "__main__":
    main()
