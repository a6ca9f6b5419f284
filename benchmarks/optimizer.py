"""Benchmark: build + solve time of a realistic residential4 day, per solver and resolution.

    python benchmarks/optimizer.py [--repeats 50] [--day 2016-07-12]

The day is real: residential4's metered PV, base load (grid import + PV -
export - metered flexible devices), heat pump and EV energy of that local day
and the day-ahead prices, with the dishwasher's and washing machine's typical
cycles derived from their real runs (ems.learning.cycles), a 10 kWh battery
and the EV's overnight window. Prints median milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date

import numpy as np
import polars as pl

from ems.config import instantiate, load_config
from ems.data.store import Store
from ems.data.days import load_days
from ems.data.ingest import ensure_database
from ems.learning.cycles import typical_cycles
from ems.learning.usage import load_usage
from ems.optim.milp import build_model
from ems.optim.optimize import extract
from ems.optim.request import BatterySpec, DayRequest, DiscretePhaseDevice, EVSpec, PartialUsageDevice
from ems.optim.solver import SOLVERS, SolverSpec
from ems.optim.validate import validate

FLEX = ("dishwasher", "washing_machine", "heat_pump", "ev")


def real_day(day: date, substeps: int) -> DayRequest:
    cfg = load_config(["building=residential4", "tariff=dynamic"])
    building, tariff = instantiate(cfg.building), instantiate(cfg.tariff)
    runs = instantiate(load_config(["learner=adaptive"]).learner.runs)
    with Store(ensure_database(cfg.data), cfg.data.timezone) as store:
        (d,), _ = load_days(store, building, [day])
        usage = load_usage(store, building, date(2015, 1, 1), date(2019, 1, 1), runs)
    cycles = typical_cycles(usage.events.filter(pl.col("device").is_in(building.devices_of("discrete_phase"))))
    e = {k: np.nan_to_num(v) for k, v in d.energy_kwh.items()}
    base = e["grid_import"] + e["pv"] - e["grid_export"] - sum(e[k] for k in FLEX)
    rep = lambda a: np.repeat(np.asarray(a, dtype=float), substeps).tolist()  # noqa: E731
    n, dt = d.n_steps * substeps, 1.0 / substeps
    return DayRequest(
        step_hours=dt, import_price_eur_kwh=rep(tariff.import_price(d.hours)),
        export_price_eur_kwh=rep(tariff.export_price(d.hours)), pv_kw=rep(e["pv"]), base_load_kw=rep(np.maximum(base, 0)),
        grid=building.grid,
        devices=[
            DiscretePhaseDevice(name="dishwasher", phases_kw=rep(cycles["dishwasher"].phases_kw)),
            DiscretePhaseDevice(name="washing_machine", phases_kw=rep(cycles["washing_machine"].phases_kw)),
            PartialUsageDevice(name="heat_pump", energy_kwh=float(e["heat_pump"].sum()), max_kw=3.0),
        ],
        battery=BatterySpec(capacity_kwh=10, max_charge_kw=5, max_discharge_kw=5, soc_init_kwh=5,
                            soc_final_min_kwh=5, soc_min_kwh=1, soc_max_kwh=10, charge_efficiency=0.95,
                            discharge_efficiency=0.95, degradation_eur_kwh=0.05),
        ev=EVSpec(capacity_kwh=24, max_charge_kw=3.7, charge_efficiency=0.9, sessions=[
            {"soc_init_kwh": 24 - float(e["ev"].sum()) * 0.9, "soc_target_kwh": 24, "arrival_step": 0,
             "deadline_step": 7 * substeps}]),
    ) if n else None


def bench(request: DayRequest, solver: str, repeats: int) -> tuple[float, float, float]:
    settings = SolverSpec(name=solver)
    build, solve = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model = build_model(request)
        t1 = time.perf_counter()
        model.prob.solve(settings.pulp_solver())
        t2 = time.perf_counter()
        build.append(t1 - t0)
        solve.append(t2 - t1)
    result = extract(model, "optimal", solver)
    validate(request, result)
    return statistics.median(build) * 1e3, statistics.median(solve) * 1e3, result.objective_eur


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--day", type=date.fromisoformat, default=date(2016, 7, 12))
    args = parser.parse_args()
    print(f"residential4 {args.day}, median of {args.repeats} runs")
    print(f"{'resolution':<12}{'solver':<8}{'vars':>6}{'cons':>6}{'build ms':>10}{'solve ms':>10}{'total ms':>10}"
          f"{'objective EUR':>15}")
    for label, substeps in (("24 x 1 h", 1), ("96 x 15 min", 4)):
        request = real_day(args.day, substeps)
        model = build_model(request)
        for solver in SOLVERS:
            build, solve, objective = bench(request, solver, args.repeats)
            print(f"{label:<12}{solver:<8}{model.prob.numVariables():>6}{model.prob.numConstraints():>6}"
                  f"{build:>10.1f}{solve:>10.1f}{build + solve:>10.1f}{objective:>15.4f}")


if __name__ == "__main__":
    main()
