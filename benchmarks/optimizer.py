"""Benchmark: build + solve time of realistic residential4 days, per solver and resolution, beside the LP relaxation.

    python benchmarks/optimizer.py [--repeats 50] [--day 2016-07-12]

The day is real: residential4's metered PV, base load (grid import + PV -
export - metered flexible devices), heat pump and EV energy of that local day
and the day-ahead prices, with the dishwasher's and washing machine's typical
cycles derived from their real runs (ems.learning.cycles), a 10 kWh battery
and the EV's overnight window. The third case is a stress test built from
it: that day and the next at 15 min (192 steps), with three copies each of
the two real cycles (six discrete devices, each free over the 48 h), the
heat pump's two-day energy, battery and EV.

Each line prints median milliseconds of building the model (arrays) and of
the exact solve (``optimize_day``'s path: LP relaxation first, MILP when
needed), the path that proved the optimum, the LP relaxation's own build +
solve time, and ends with ``x LP <ratio>`` = exact total / LP-relaxation total.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from datetime import date

from ems.evaluation.performance import real_request
from ems.optim.backends import session
from ems.optim.milp import build_model
from ems.optim.optimize import extract, solve_exact
from ems.optim.request import DayRequest
from ems.optim.solver import SOLVERS, SolverSpec
from ems.optim.validate import validate

def real_days(first: date, n_days: int, substeps: int, copies: int = 1) -> DayRequest:
    """``n_days`` real residential4 days from ``first`` as one request at ``substeps`` steps per hour;
    ``copies`` of each real cycle, each free over the whole horizon (ems.evaluation.performance)."""
    return real_request("residential4", first, n_days, substeps, copies)


def bench(request: DayRequest, solver: str, repeats: int) -> dict:
    """Median ms of build, exact solve and LP relaxation; the path and objective of the exact solve."""
    settings = SolverSpec(name=solver)
    build, exact, relaxed, paths = [], [], [], Counter()
    for _ in range(repeats):
        t0 = time.perf_counter()
        model = build_model(request)
        mat = model.matrix()
        t1 = time.perf_counter()
        model, mat, solution, path, _, _ = solve_exact(model, mat, settings)
        t2 = time.perf_counter()
        lp = session(build_model(request).matrix(), settings).relaxation()
        t3 = time.perf_counter()
        build.append(t1 - t0)
        exact.append(t2 - t1)
        relaxed.append(t3 - t2)
        paths[path] += 1
        assert lp.status == "optimal"
    result = extract(model, mat, solution.x, solution.status, solver)
    validate(request, result)
    ms = lambda xs: statistics.median(xs) * 1e3  # noqa: E731
    return {"build": ms(build), "solve": ms(exact), "lp": ms(relaxed), "path": paths.most_common(1)[0][0],
            "objective": result.objective_eur, "vars": mat.n_cols, "cons": mat.n_rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--day", type=date.fromisoformat, default=date(2016, 7, 12))
    args = parser.parse_args()
    print(f"residential4 {args.day}, median of {args.repeats} runs")
    print(f"{'case':<24}{'solver':<7}{'vars':>6}{'cons':>6}{'build ms':>10}{'solve ms':>10}{'total ms':>10}"
          f"{'objective EUR':>15}  {'path':<11}{'LP ms':>8}")
    cases = (("24 x 1 h", 1, 1, 1), ("96 x 15 min", 1, 4, 1), ("192 x 15 min, 6 cycles", 2, 4, 3))
    for label, n_days, substeps, copies in cases:
        request = real_days(args.day, n_days, substeps, copies)
        for solver in SOLVERS:
            if not SolverSpec(name=solver).available():
                continue
            b = bench(request, solver, args.repeats if n_days == 1 else max(3, args.repeats // 10))
            total = b["build"] + b["solve"]
            print(f"{label:<24}{solver:<7}{b['vars']:>6}{b['cons']:>6}{b['build']:>10.1f}{b['solve']:>10.1f}"
                  f"{total:>10.1f}{b['objective']:>15.4f}  {b['path']:<11}{b['lp']:>8.1f}  x LP {total / b['lp']:.2f}")


if __name__ == "__main__":
    main()
