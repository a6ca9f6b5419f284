"""Computational performance (seed 4.3.9): model size, build and solve time and memory of real days by
building size, with and without a battery, deterministic and robust (two-stage, N scenarios).

The day is real (:func:`real_request`): a building's metered PV and base load (grid import + PV - export -
metered flexible devices) and the day-ahead prices; devices are the building's real typical cycles
(:mod:`ems.learning.cycles`) and its heat pump's metered daily energy, copied round-robin up to the size
asked for (a scaling test: the copies are not metered devices). Scenarios are the base load and PV of the
real neighbouring days. Memory is the peak of Python-side allocations (model arrays; tracemalloc), not
the solver's own.
"""

from __future__ import annotations

import functools
import statistics
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from ems.config import instantiate, load_config
from ems.data.calendar import WHOLE_RECORD
from ems.data.days import load_days
from ems.data.ingest import ensure_database
from ems.data.store import Store
from ems.evaluation.claims import SEED
from ems.evaluation.report import Claim, Section, Table, cell, span, verdict
from ems.evaluation.settings import Performance
from ems.figures import plt, save_figure  # Agg, or a notebook's own backend
from ems.learning.cycles import typical_cycles
from ems.learning.usage import load_usage
from ems.optim.optimize import optimize_day
from ems.optim.request import (
    BatterySpec,
    DayRequest,
    DiscretePhaseDevice,
    EVSpec,
    PartialUsageDevice,
)
from ems.optim.scenarios import Scenario, optimize_scenarios

#: Metered devices of the house's own balance (taken out of the base load).
FLEX = ("dishwasher", "washing_machine", "heat_pump", "ev")
#: Battery of the performance cases (as conf/battery/home.yaml).
BATTERY = dict(capacity_kwh=10, max_charge_kw=5, max_discharge_kw=5, soc_init_kwh=5, soc_final_min_kwh=5,
               soc_min_kwh=1, soc_max_kwh=10, charge_efficiency=0.95, discharge_efficiency=0.95,
               degradation_eur_kwh=0.05)
#: The heat pump's power limit in these cases (kW, residential4's meter peak rounded up).
HEAT_PUMP_KW = 3.0


@functools.lru_cache(maxsize=8)
def _house(building_id: str, overrides: tuple[str, ...] = ()) -> tuple:
    """(config, building, typical cycles from its whole record) of a building: read once per process.
    ``overrides`` are config keys such as ``paths.output_dir`` (whose store is read)."""
    cfg = load_config([f"building={building_id}", "tariff=dynamic", "learner=adaptive", *overrides])
    building = instantiate(cfg.building)
    with Store(ensure_database(cfg.data), cfg.data.timezone) as store:
        usage = load_usage(store, building, *WHOLE_RECORD, instantiate(cfg.learner.runs))
    cycles = typical_cycles(usage.events.filter(pl.col("device").is_in(building.devices_of("discrete_phase"))))
    return cfg, building, cycles


def real_series(building_id: str, first: date, n_days: int, overrides: tuple[str, ...] = ()
                ) -> tuple[dict[str, np.ndarray], pl.DataFrame, dict]:
    """Hourly energies of ``n_days`` real local days from ``first`` (``base`` added), their hours, and the
    building's typical cycles."""
    cfg, building, cycles = _house(building_id, tuple(overrides))
    with Store(ensure_database(cfg.data), cfg.data.timezone) as store:
        days, _ = load_days(store, building, [first + timedelta(days=i) for i in range(n_days)])
    e = {k: np.concatenate([np.nan_to_num(d.energy_kwh[k]) for d in days]) for k in days[0].energy_kwh}
    flex = sum((e[k] for k in FLEX if k in e), np.zeros(len(e["grid_import"])))
    e["base"] = np.maximum(e["grid_import"] + e.get("pv", 0) - e["grid_export"] - flex, 0)
    e.setdefault("pv", np.zeros(len(e["base"])))
    return e, pl.concat([d.hours for d in days]), {"cycles": cycles, "cfg": cfg, "building": building}


def real_request(building_id: str, first: date, n_days: int = 1, substeps: int = 1, copies: int = 1,
                 n_devices: int | None = None, battery: bool = True, ev: bool = True,
                 overrides: tuple[str, ...] = ()) -> DayRequest:
    """``n_days`` real days from ``first`` as one request at ``substeps`` steps per hour: ``copies`` of each
    real cycle and the heat pump's energy, or (``n_devices``) that many devices round-robin over the heat
    pump, the dishwasher and the washing machine; a 10 kWh battery and the EV's overnight window if asked;
    ``overrides`` choose the store (e.g. ``paths.output_dir=...``)."""
    e, hours, extra = real_series(building_id, first, n_days, overrides)
    tariff = instantiate(extra["cfg"].tariff)
    cycles = extra["cycles"]
    rep = lambda a: np.repeat(np.asarray(a, dtype=float), substeps).tolist()  # noqa: E731
    kinds = [k for k in ("heat_pump", "dishwasher", "washing_machine") if k == "heat_pump" and "heat_pump" in e
             or k in cycles]
    if n_devices is None:
        order = [k for k in ("dishwasher", "washing_machine") if k in cycles for _ in range(copies)] + \
                (["heat_pump"] if "heat_pump" in e else [])
    else:
        order = [kinds[i % len(kinds)] for i in range(n_devices)]
    devices, seen = [], {}
    for kind in order:
        seen[kind] = seen.get(kind, 0) + 1
        name = kind if order.count(kind) == 1 else f"{kind}_{seen[kind]}"
        if kind == "heat_pump":
            devices.append(PartialUsageDevice(name=name, energy_kwh=float(e["heat_pump"].sum()), max_kw=HEAT_PUMP_KW))
        else:
            devices.append(DiscretePhaseDevice(name=name, phases_kw=rep(cycles[kind].phases_kw)))
    ev_spec = None
    if ev and "ev" in e:
        ev_spec = EVSpec(capacity_kwh=24, max_charge_kw=3.7, charge_efficiency=0.9, sessions=[
            {"soc_init_kwh": 24 - float(e["ev"][:24].sum()) * 0.9, "soc_target_kwh": 24, "arrival_step": 0,
             "deadline_step": 7 * substeps}])
    return DayRequest(
        step_hours=1.0 / substeps, import_price_eur_kwh=rep(tariff.import_price(hours)),
        export_price_eur_kwh=rep(tariff.export_price(hours)), pv_kw=rep(e["pv"]), base_load_kw=rep(e["base"]),
        grid=extra["building"].grid, devices=devices, battery=BatterySpec(**BATTERY) if battery else None, ev=ev_spec)


def scenarios(building_id: str, day: date, n: int, overrides: tuple[str, ...] = ()) -> list[Scenario]:
    """``n`` equally likely scenarios: the base load and PV of the real days around ``day`` (itself first)."""
    offsets = [0] + [k * s for k in range(1, n) for s in (-1, 1)][:n - 1]
    out = []
    for off in offsets:
        e, _, _ = real_series(building_id, day + timedelta(days=off), 1, overrides)
        out.append(Scenario(base_kw=e["base"], pv_kw=e["pv"], probability=1.0 / n))
    return out


def measure(p: Performance, overrides: tuple[str, ...] = ()) -> list[dict]:
    """One row per (devices, battery, robust) case: variables, constraints, median build and solve seconds,
    peak Python memory (MB) and the objective; ``overrides`` choose the store."""
    rows = []
    draws = scenarios(p.building, p.day, p.scenarios, overrides)
    for n in p.devices:
        for battery in (False, True):
            request = real_request(p.building, p.day, n_devices=n, battery=battery, ev=False, overrides=overrides)
            for robust in (False, True):
                build, solve, peak, result = [], [], [], None
                for _ in range(p.repeats):
                    tracemalloc.start()
                    result = optimize_scenarios(request, draws) if robust else optimize_day(request)
                    peak.append(tracemalloc.get_traced_memory()[1] / 1e6)
                    tracemalloc.stop()
                    build.append(result.build_seconds)
                    solve.append(result.solve_seconds)
                rows.append({"devices": n, "battery": battery, "robust": robust, "status": result.status,
                             "variables": result.n_variables, "constraints": result.n_constraints,
                             "build_s": statistics.median(build), "solve_s": statistics.median(solve),
                             "memory_mb": max(peak), "objective_eur": result.objective_eur})
    return rows


def performance_section(p: Performance, rows: list[dict], out: Path) -> Section:
    table = Table(["devices", "battery", "planning", "variables", "constraints", "build s", "solve s", "memory MB",
                   "status"],
                  [[str(r["devices"]), "yes" if r["battery"] else "no",
                    f"robust, {p.scenarios} scenarios" if r["robust"] else "deterministic", str(r["variables"]),
                    str(r["constraints"]), cell(r["build_s"], "{:.3f}"), cell(r["solve_s"], "{:.3f}"),
                    cell(r["memory_mb"], "{:.1f}"), r["status"]] for r in rows],
                  f"{p.building} {p.day}, 24 h; HiGHS; median of {p.repeats} solve(s); memory: peak Python-side "
                  "allocations (model arrays), not the solver's own")
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (battery, robust) in enumerate(((False, False), (True, False), (False, True), (True, True))):
        mine = [r for r in rows if r["battery"] == battery and r["robust"] == robust]
        ax.plot([r["devices"] for r in mine], [r["build_s"] + r["solve_s"] for r in mine], marker="o",
                label=f"{'battery' if battery else 'no battery'}, {'robust' if robust else 'deterministic'}")
    ax.set_yscale("log")
    ax.set_xlabel("flexible devices")
    ax.set_ylabel("build + solve, s")
    ax.set_title("MILP time by building size (one real day)")
    ax.legend(fontsize=8)
    save_figure(fig, out / "performance.png")
    totals = [r["build_s"] + r["solve_s"] for r in rows]
    text = [f"One real day of {p.building} ({p.day}): its metered PV and base load and the day-ahead prices; the "
            "devices are its real typical cycles and its heat pump's metered daily energy, copied round-robin up to "
            "the size shown (a scaling test: the copies are not metered devices). The robust case's scenarios are "
            "the base load and PV of the real neighbouring days.",
            "A time below the seed's range is faster than the seed's, not worse: the verdict compares the numbers."]
    claims = [Claim(SEED["solve"], f"{span(totals, '{:.3f}')} s build + solve", verdict(totals, 1.2, 18.7))]
    return Section("performance", "Computational performance", "report section 4.3.9", text, [table],
                   ["performance.png"], claims)
