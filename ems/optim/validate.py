"""An independent check of a schedule: recomputed from the request and the result alone.

It shares no code with the model: each part is checked by this module's own
entry for its kind (:data:`DEVICE_CHECKS`, :data:`STORAGE_CHECKS`), so a kind
without a check is itself a violation. Every violation is collected; a
schedule with any violation is an error (:class:`ScheduleViolation`), never a warning.
"""

from __future__ import annotations

import numpy as np

from ems.optim.request import DayRequest
from ems.optim.result import DayResult

TOL = 1e-5  # kW / kWh / EUR: solver feasibility tolerance with margin


class ScheduleViolation(RuntimeError):
    """A schedule broke a constraint; the message lists every violation."""


def violations(r: DayRequest, res: DayResult) -> list[str]:
    """Every constraint the schedule ``res`` breaks (empty: the schedule is valid)."""
    n, dt = r.n_steps, r.step_hours
    found: list[str] = []

    def check(ok: bool, message: str) -> None:
        if not ok:
            found.append(message)

    imp, exp, curt = (np.asarray(x, dtype=float) for x in (res.import_kw, res.export_kw, res.pv_curtailed_kw))
    for name, arr in (("import_kw", imp), ("export_kw", exp), ("pv_curtailed_kw", curt)):
        check(arr.shape == (n,), f"{name}: {arr.shape[0] if arr.ndim else 0} values, expected {n}")
    if found:
        return found
    check(bool((imp >= -TOL).all() and (imp <= r.max_import_kw + TOL).all()), "grid: import outside [0, max_import_kw]")
    check(bool((exp >= -TOL).all() and (exp <= r.max_export_kw + TOL).all()), "grid: export outside [0, max_export_kw]")
    check(bool((np.minimum(imp, exp) <= TOL).all()), "grid: import and export in the same step")
    pv = np.asarray(r.pv_kw)
    pv_cap = pv if r.pv_curtailable else np.zeros(n)
    check(bool((curt >= -TOL).all() and (curt <= pv_cap + TOL).all()), "pv: curtailment outside its limits")

    load = np.asarray(r.base_load_kw, dtype=float).copy()
    for d in r.devices:
        power = _device(r, d, res, check)
        if power is not None:
            load += power
    requested = {}
    for key, many in (("battery", r.batteries), ("ev", r.evs)):  # the request's own lists, by kind
        for spec in many:
            requested[spec.name] = (STORAGE_CHECKS[key], spec)
    for name in res.storages:
        check(name in requested, f"{name}: scheduled but not in the request")
    for name, (checker, spec) in requested.items():
        sched = res.storages.get(name)
        if sched is None:
            check(False, f"{name}: missing from the result")
        else:
            load += checker(r, spec, sched, check)
    gap = imp - exp + pv - curt - load
    bad = np.flatnonzero(np.abs(gap) > TOL)
    check(len(bad) == 0, f"balance: supply and demand differ by {gap[bad[0]]:.6f} kW at step {bad[0]}" if len(bad) else "")

    cost = float(dt * (np.dot(imp, r.import_price_eur_kwh) - np.dot(exp, r.export_price_eur_kwh)))
    check(res.energy_cost_eur is not None and abs(cost - res.energy_cost_eur) <= TOL * max(1, n),
          f"energy_cost_eur: reported {res.energy_cost_eur}, recomputed {cost:.6f}")
    demand = 0.0
    if r.demand_charge is not None and r.demand_charge.eur_per_kw > 0:  # recomputed from the imports alone
        demand = r.demand_charge.eur_per_kw * max(float(imp.max()) - r.demand_charge.peak_so_far_kw, 0.0)
    check(abs((res.demand_eur or 0.0) - demand) <= TOL * max(1, r.demand_charge.eur_per_kw if r.demand_charge else 1),
          f"demand_eur: reported {res.demand_eur}, the peak import {float(imp.max()):.6f} kW gives {demand:.6f}")
    total = (res.energy_cost_eur or 0) + (res.degradation_eur or 0) + (res.penalty_eur or 0) + demand
    check(res.objective_eur is not None and abs(total - res.objective_eur) <= TOL * max(1, n),
          f"objective_eur: reported {res.objective_eur}, cost + degradation + penalty + demand = {total:.6f}")
    return found


def validate(r: DayRequest, res: DayResult) -> None:
    """Raise :class:`ScheduleViolation` listing every violation, if any."""
    problems = violations(r, res)
    if problems:
        raise ScheduleViolation("; ".join(problems))


def _device(r: DayRequest, d, res: DayResult, check) -> np.ndarray | None:
    n = r.n_steps
    sched = res.devices.get(d.name)
    check(sched is not None, f"{d.name}: missing from the result")
    if sched is None:
        return None
    power = np.asarray(sched.power_kw, dtype=float)
    check(power.shape == (n,), f"{d.name}.power_kw: {len(sched.power_kw)} values, expected {n}")
    if power.shape != (n,):
        return None
    checker = DEVICE_CHECKS.get(d.flex_model)
    if checker is None:
        check(False, f"{d.name}: no validator check for flex_model={d.flex_model!r}")
        return None
    return checker(r, d, sched, power, check)


def _cycle(r: DayRequest, d, sched, power: np.ndarray, check) -> np.ndarray:
    n = r.n_steps
    pmf = None if d.pmf is None else np.asarray(d.pmf)
    length = len(d.phases_kw)
    starts = sorted(sched.starts or [])
    check(len(starts) == d.runs, f"{d.name}: {len(starts)} starts, expected {d.runs} runs")
    expected = np.zeros(n)
    for k in starts:
        check(d.earliest_start <= k and k + length <= d.latest_end,
              f"{d.name}: cycle starting at step {k} leaves [{d.earliest_start}, {d.latest_end})")
        if pmf is not None:
            check(bool((pmf[k:k + length] >= r.theta).all()), f"{d.name}: cycle at step {k} runs in steps with P < theta")
        expected[k:k + length] += np.asarray(d.phases_kw)[: max(0, min(length, n - k))]
    for a, b in zip(starts, starts[1:]):
        check(b - a >= length + d.min_gap_steps, f"{d.name}: runs at steps {a} and {b} overlap or violate the gap")
    check(bool(np.allclose(power, expected, atol=TOL)), f"{d.name}: power_kw is not the cycle started at {starts}")
    return expected


def _window(r: DayRequest, d, sched, power: np.ndarray, check) -> np.ndarray:
    n, dt = r.n_steps, r.step_hours
    pmf = None if d.pmf is None else np.asarray(d.pmf)
    outside = np.ones(n, dtype=bool)
    outside[d.earliest_start:d.latest_end] = False
    if pmf is not None:
        outside |= pmf < r.theta
    check(bool((np.abs(power[outside]) <= TOL).all()), f"{d.name}: power outside its allowed steps")
    check(bool((power >= -TOL).all() and (power <= d.max_kw + TOL).all()), f"{d.name}: power outside [0, max_kw]")
    if d.min_kw > 0:
        check(bool(((power <= TOL) | (power >= d.min_kw - TOL)).all()), f"{d.name}: power between 0 and min_kw")
    check(abs(power.sum() * dt - d.energy_kwh) <= TOL * max(1, n), f"{d.name}: delivers {power.sum() * dt:.6f} kWh, "
          f"needs {d.energy_kwh}")
    return power


def _thermal(r: DayRequest, d, sched, power: np.ndarray, check) -> np.ndarray:
    """Power in its window and [0, max_kw]; the 1R1C deviation recomputed step by step inside the band."""
    n, dt = r.n_steps, r.step_hours
    outside = np.ones(n, dtype=bool)
    outside[d.earliest_start:d.latest_end] = False
    check(bool((np.abs(power[outside]) <= TOL).all()), f"{d.name}: power outside its allowed steps")
    check(bool((power >= -TOL).all() and (power <= d.max_kw + TOL).all()), f"{d.name}: power outside [0, max_kw]")
    dev = [d.deviation_init_k]
    for t in range(n):  # C d(dev)/dt = cop * power - heat / dt - H * dev, exact for a power constant over the step
        steady = (d.cop[t] * power[t] - d.heat_kwh[t] / dt) / d.loss_kw_per_k
        dev.append(steady + (dev[-1] - steady) * np.exp(-dt * d.loss_kw_per_k / d.capacity_kwh_per_k))
    dev = np.asarray(dev)
    low, high = d.deviation_min_k - TOL, d.deviation_max_k + TOL
    bad = np.flatnonzero((dev < low) | (dev > high))
    check(len(bad) == 0, f"{d.name}: comfort band: deviation {dev[bad[0]]:.4f} K at step {bad[0]} outside "
          f"[{d.deviation_min_k:g}, {d.deviation_max_k:g}] K" if len(bad) else "")
    check(dev[-1] >= d.deviation_final_min_k - TOL, f"{d.name}: comfort band: ends at {dev[-1]:.4f} K < "
          f"deviation_final_min_k={d.deviation_final_min_k:g}")
    return power


def _flows(name: str, sched, n: int, check) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    ch = np.asarray(sched.charge_kw, dtype=float)
    dis = np.asarray(sched.discharge_kw if sched.discharge_kw is not None else np.zeros(n), dtype=float)
    soc = np.asarray(sched.soc_kwh, dtype=float)
    if ch.shape != (n,) or dis.shape != (n,) or soc.shape != (n + 1,):
        check(False, f"{name}: charge/discharge need {n} values and soc_kwh {n + 1}")
        return None
    return ch, dis, soc


def _limits(name: str, ch, dis, max_in, max_out, plugged, eta_in, eta_out, soc, low, high, dt, follows, check):
    check(bool((ch >= -TOL).all() and (ch <= max_in * plugged + TOL).all()), f"{name}: charge outside its limits")
    check(bool((dis >= -TOL).all() and (dis <= max_out * plugged + TOL).all()), f"{name}: discharge outside its limits")
    check(bool((np.minimum(ch, dis) <= TOL).all()), f"{name}: charges and discharges in the same step")
    step = soc[1:] - soc[:-1] - dt * (eta_in * ch - dis / eta_out)
    check(bool((np.abs(step[follows]) <= TOL).all()), f"{name}: SOC does not follow charge and discharge")
    check(bool((soc >= low - TOL).all() and (soc <= high + TOL).all()), f"{name}: SOC outside [{low}, {high}]")


def _battery(r: DayRequest, b, sched, check) -> np.ndarray:
    n, name = r.n_steps, b.name
    flows = _flows(name, sched, n, check)
    if flows is None:
        return np.zeros(n)
    ch, dis, soc = flows
    check(abs(soc[0] - b.soc_init_kwh) <= TOL, f"{name}: SOC starts at {soc[0]}, not {b.soc_init_kwh}")
    check(soc[-1] >= b.soc_final_min_kwh - TOL, f"{name}: final SOC {soc[-1]:.4f} < soc_final_min_kwh")
    _limits(name, ch, dis, b.max_charge_kw, b.max_discharge_kw, np.ones(n, dtype=bool), b.charge_efficiency,
            b.discharge_efficiency, soc, b.soc_min_kwh, b.soc_max_kwh, r.step_hours, np.ones(n, dtype=bool), check)
    return ch - dis


def _ev(r: DayRequest, ev, sched, check) -> np.ndarray:
    """Per session: SOC soc_init on arrival, following charge while plugged in, >= target on leaving."""
    n, name = r.n_steps, ev.name
    flows = _flows(name, sched, n, check)
    if flows is None:
        return np.zeros(n)
    ch, dis, soc = flows
    plugged = np.zeros(n, dtype=bool)
    follows = np.ones(n, dtype=bool)  # steps whose SOC change is charge/discharge (not a new arrival)
    for i, s in enumerate(ev.sessions):
        plugged[s.arrival_step:s.deadline_step] = True
        check(abs(soc[s.arrival_step] - s.soc_init_kwh) <= TOL,
              f"{name}: SOC {soc[s.arrival_step]:.4f} kWh on arrival at step {s.arrival_step}, not {s.soc_init_kwh}")
        check(soc[s.deadline_step] >= s.soc_target_kwh - TOL,
              f"{name}: SOC {soc[s.deadline_step]:.4f} kWh at step {s.deadline_step} < soc_target_kwh {s.soc_target_kwh}")
        if i and s.arrival_step > 0:
            follows[s.arrival_step - 1] = False
    max_out = ev.max_discharge_kw if ev.v2g else 0.0
    _limits(name, ch, dis, ev.max_charge_kw, max_out, plugged, ev.charge_efficiency, ev.discharge_efficiency, soc,
            0.0, ev.capacity_kwh, r.step_hours, follows, check)
    return ch - dis


#: The validator's own check per device kind (flex_model) and per storage kind (each battery, each EV).
DEVICE_CHECKS = {"discrete_phase": _cycle, "partial_usage": _window, "thermal": _thermal}
STORAGE_CHECKS = {"battery": _battery, "ev": _ev}
