"""Why a request cannot be met: checks before solving, and a culprit search after.

Each message names the device (or grid) and the constraint, e.g.
``dishwasher: a 3-step cycle cannot fit in [20, 22)``.
"""

from __future__ import annotations

import copy

import numpy as np

from ems.optim.milp import allowed_steps
from ems.optim.request import DayRequest, DiscretePhaseDevice


def precheck(r: DayRequest) -> list[str]:
    """Obvious causes of infeasibility, found without a solver (empty = none found)."""
    problems: list[str] = []
    for d in r.devices:
        window = f"[{d.earliest_start}, {d.latest_end})"
        if isinstance(d, DiscretePhaseDevice):
            length = len(d.phases_kw)
            if d.runs and length > d.latest_end - d.earliest_start:
                problems.append(f"{d.name}: a {length}-step cycle cannot fit in {window}")
                continue
            need = d.runs * length + max(d.runs - 1, 0) * d.min_gap_steps
            if need > d.latest_end - d.earliest_start:
                problems.append(f"{d.name}: {d.runs} runs of {length} steps (gap {d.min_gap_steps}) need {need} "
                                f"steps, {window} has {d.latest_end - d.earliest_start}")
            elif d.runs and not allowed_steps(d.pmf, r.theta, d.earliest_start, d.latest_end, length):
                problems.append(f"{d.name}: no start in {window} where all {length} steps have P >= theta={r.theta}")
        else:
            steps = allowed_steps(d.pmf, r.theta, d.earliest_start, d.latest_end)
            most = d.max_kw * r.step_hours * len(steps)
            if d.energy_kwh > most + 1e-9:
                where = f"{window}" if d.pmf is None else f"the {len(steps)} steps of {window} with P >= theta={r.theta}"
                problems.append(f"{d.name}: {d.energy_kwh:g} kWh needed in {where}, at most {most:g} kWh deliverable")
    if r.ev is not None:
        ev = r.ev
        need = ev.soc_target_kwh - ev.soc_init_kwh
        most = ev.charge_efficiency * ev.max_charge_kw * r.step_hours * (ev.deadline_step - ev.arrival_step)
        if need > most + 1e-9:
            problems.append(f"ev: {need:g} kWh needed by step {ev.deadline_step}, at most {most:g} kWh chargeable")
    if r.battery is not None:
        b = r.battery
        most = b.charge_efficiency * b.max_charge_kw * r.step_hours * r.n_steps
        if b.soc_final_min_kwh - b.soc_init_kwh > most + 1e-9:
            problems.append(f"battery: soc_final_min_kwh={b.soc_final_min_kwh:g} unreachable from "
                            f"soc_init_kwh={b.soc_init_kwh:g}, at most {most:g} kWh chargeable")
    problems += _grid_check(r)
    return problems


def _grid_check(r: DayRequest) -> list[str]:
    """Steps whose fixed load exceeds import + everything that could cover it."""
    cover = r.max_import_kw + np.asarray(r.pv_kw)
    if r.battery is not None:
        cover = cover + r.battery.max_discharge_kw
    fixed = np.asarray(r.base_load_kw)
    over = np.flatnonzero(fixed > cover + 1e-9)
    if len(over):
        t = int(over[0])
        return [f"grid: step {t} needs {fixed[t]:g} kW of base load, at most {cover[t]:g} kW available "
                f"(max_import_kw={r.max_import_kw:g} + PV + battery)"]
    return []


def find_culprit(r: DayRequest, solve) -> list[str]:
    """After an infeasible solve: the flexible parts whose removal makes the rest feasible.

    ``solve(request) -> bool`` says whether a request is feasible.
    """
    names = [d.name for d in r.devices] + [p for p in ("battery", "ev") if getattr(r, p) is not None]
    culprits = []
    for name in names:
        trial = copy.deepcopy(r)
        if name in ("battery", "ev"):
            setattr(trial, name, None)
        else:
            trial.devices = [d for d in trial.devices if d.name != name]
        if solve(trial):
            culprits.append(name)
    if culprits:
        return [f"{c}: cannot be met together with the rest of the day (grid limits "
                f"max_import_kw={r.max_import_kw:g}, max_export_kw={r.max_export_kw:g})" for c in culprits]
    return [f"grid: the day's loads and limits (max_import_kw={r.max_import_kw:g}, "
            f"max_export_kw={r.max_export_kw:g}) admit no schedule"]
