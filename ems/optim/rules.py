"""The rule-based scheduler: what a careful household could do without an optimiser.

Rules (step prices are import prices, EUR/kWh):
* each discrete cycle starts in the cheapest allowed window whose steps avoid
  the top-25 % price steps (the cheapest allowed window at all if none does);
* partial-usage energy fills the cheapest allowed steps first;
* the EV charges in its cheapest plugged-in steps until the target;
* the battery charges from the grid in the cheapest quarter of the steps and
  discharges in the dearest quarter, never below max(soc_min, soc_final_min)
  and never more than the house needs (no battery export).
The result goes through the same independent validator as the MILP's.
"""

from __future__ import annotations

import numpy as np

from ems.optim.milp import allowed_steps
from ems.optim.request import DayRequest, DiscretePhaseDevice, PartialUsageDevice
from ems.optim.result import DayResult, DeviceSchedule, StorageSchedule, energy_cost_eur
from ems.optim.validate import validate

EXPENSIVE_QUANTILE = 0.75  # steps priced at or above this quantile are avoided by cycles
BATTERY_SHARE = 0.25       # share of steps used for battery charging (cheapest) and discharging (dearest)


def rule_based_schedule(r: DayRequest) -> DayResult:
    """Schedule ``r`` by the rules above; infeasible when a rule cannot meet a constraint."""
    price = np.asarray(r.import_price_eur_kwh, dtype=float)
    load = np.asarray(r.base_load_kw, dtype=float).copy()
    devices, problems = {}, []
    for d in r.devices:
        power, starts, problem = (_cycle(r, d, price) if isinstance(d, DiscretePhaseDevice) else _partial(r, d, price))
        if problem:
            problems.append(problem)
            continue
        devices[d.name] = DeviceSchedule(power.tolist(), starts)
        load += power
    ev = None
    if r.ev is not None and not problems:
        ev = _ev(r, price)
        load += np.asarray(ev.charge_kw)
    pv = np.asarray(r.pv_kw, dtype=float)
    battery = _battery(r, price, load - pv) if r.battery is not None and not problems else None
    if battery is not None:
        load += np.asarray(battery.charge_kw) - np.asarray(battery.discharge_kw)
    net = load - pv
    imp, exp = np.maximum(net, 0.0), np.maximum(-net, 0.0)
    curtail = np.zeros_like(exp)
    if r.pv_curtailable:
        curtail = np.minimum(np.maximum(exp - r.max_export_kw, 0.0), pv)
        exp -= curtail
    if not problems and (imp > r.max_import_kw + 1e-9).any():
        t = int(np.argmax(imp > r.max_import_kw + 1e-9))
        problems.append(f"grid: the rules need {imp[t]:g} kW at step {t}, max_import_kw={r.max_import_kw:g}")
    if not problems and (exp > r.max_export_kw + 1e-9).any():
        problems.append(f"grid: the rules export more than max_export_kw={r.max_export_kw:g}")
    if problems:
        return DayResult(status="infeasible", diagnosis=problems, solver="rule_based")
    dt = r.step_hours
    cost = energy_cost_eur(imp, exp, price, r.export_price_eur_kwh, dt)
    degradation = 0.0
    if battery is not None:
        degradation = r.battery.degradation_eur_kwh * dt * (sum(battery.charge_kw) + sum(battery.discharge_kw))
    penalty = _penalty(r, devices)
    result = DayResult(status="feasible", energy_cost_eur=cost, objective_eur=cost + degradation + penalty,
                       degradation_eur=degradation, penalty_eur=penalty, import_kw=imp.tolist(), export_kw=exp.tolist(),
                       pv_curtailed_kw=curtail.tolist(), devices=devices, battery=battery, ev=ev, solver="rule_based")
    validate(r, result)
    return result


def _cycle(r: DayRequest, d: DiscretePhaseDevice, price: np.ndarray):
    length, n = len(d.phases_kw), r.n_steps
    expensive = price >= np.quantile(price, EXPENSIVE_QUANTILE)
    power, starts = np.zeros(n), []
    busy_until = -1
    for _ in range(d.runs):
        candidates = [k for k in allowed_steps(d.pmf, r.theta, d.earliest_start, d.latest_end, length) if k > busy_until]
        if not candidates:
            return power, starts, f"{d.name}: rule_based finds no start for run {len(starts) + 1} in " \
                                  f"[{d.earliest_start}, {d.latest_end})"
        cost = {k: float(np.dot(price[k:k + length], d.phases_kw)) for k in candidates}
        calm = [k for k in candidates if not expensive[k:k + length].any()]
        k = min(calm or candidates, key=lambda s: (cost[s], s))
        starts.append(k)
        power[k:k + length] += d.phases_kw
        busy_until = k + length - 1 + d.min_gap_steps
    return power, starts, None


def _partial(r: DayRequest, d: PartialUsageDevice, price: np.ndarray):
    power = np.zeros(r.n_steps)
    remaining = d.energy_kwh
    for t in sorted(allowed_steps(d.pmf, r.theta, d.earliest_start, d.latest_end), key=lambda t: (price[t], t)):
        if remaining <= 1e-12:
            break
        kw = min(d.max_kw, remaining / r.step_hours)
        if 0 < kw < d.min_kw:
            kw = d.min_kw
        power[t] = kw
        remaining -= kw * r.step_hours
    if remaining > 1e-9:
        return power, None, f"{d.name}: rule_based cannot deliver {d.energy_kwh:g} kWh in its allowed steps"
    if remaining < -1e-9:  # a min_kw step overshot: take the excess back from the dearest step above min_kw
        t = max((t for t in np.flatnonzero(power) if power[t] - d.min_kw >= -remaining / r.step_hours),
                key=lambda t: price[t], default=None)
        if t is None:
            return power, None, f"{d.name}: rule_based cannot meet min_kw={d.min_kw:g} and {d.energy_kwh:g} kWh exactly"
        power[t] += remaining / r.step_hours
    return power, None, None


def _ev(r: DayRequest, price: np.ndarray) -> StorageSchedule:
    ev, dt, n = r.ev, r.step_hours, r.n_steps
    charge = np.zeros(n)
    need = max(ev.soc_target_kwh - ev.soc_init_kwh, 0.0)
    for t in sorted(range(ev.arrival_step, ev.deadline_step), key=lambda t: (price[t], t)):
        if need <= 1e-12:
            break
        charge[t] = min(ev.max_charge_kw, need / (ev.charge_efficiency * dt))
        need -= charge[t] * ev.charge_efficiency * dt
    soc = ev.soc_init_kwh + np.concatenate([[0.0], np.cumsum(charge * ev.charge_efficiency * dt)])
    return StorageSchedule(charge_kw=charge.tolist(), soc_kwh=soc.tolist(), discharge_kw=[0.0] * n if ev.v2g else None)


def _battery(r: DayRequest, price: np.ndarray, net_kw: np.ndarray) -> StorageSchedule:
    b, dt, n = r.battery, r.step_hours, r.n_steps
    k = max(1, int(round(BATTERY_SHARE * n)))
    order = np.argsort(price, kind="stable")
    cheap, dear = set(order[:k].tolist()), set(order[-k:].tolist()) - set(order[:k].tolist())
    floor = max(b.soc_min_kwh, b.soc_final_min_kwh)
    charge, discharge, soc = np.zeros(n), np.zeros(n), [b.soc_init_kwh]
    for t in range(n):
        level = soc[-1]
        if t in cheap:
            charge[t] = min(b.max_charge_kw, max(b.soc_max_kwh - level, 0.0) / (b.charge_efficiency * dt))
        elif t in dear and net_kw[t] > 0:
            discharge[t] = min(b.max_discharge_kw, max(level - floor, 0.0) * b.discharge_efficiency / dt, net_kw[t])
        soc.append(level + dt * (b.charge_efficiency * charge[t] - discharge[t] / b.discharge_efficiency))
    return StorageSchedule(charge_kw=charge.tolist(), soc_kwh=soc, discharge_kw=discharge.tolist())


def _penalty(r: DayRequest, devices: dict[str, DeviceSchedule]) -> float:
    total = 0.0
    for d in r.devices:
        if d.pmf is None or not d.preference_weight:
            continue
        sched = devices[d.name]
        if isinstance(d, DiscretePhaseDevice):
            total += d.preference_weight * sum(1.0 - d.pmf[k] for k in sched.starts)
        else:
            total += d.preference_weight * r.step_hours * float(np.dot(1.0 - np.asarray(d.pmf), sched.power_kw))
    return total
