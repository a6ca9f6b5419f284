"""The day-ahead MILP, built PyPSA-style: one small ``define_*`` per component.

Each ``define_*`` adds its variables and constraints to a :class:`Model`, puts
its power into the per-step balance (``+`` = consumption) and its cost into
the objective. Powers are kW, energies kWh (power x ``step_hours``), prices
EUR/kWh. Balance at every step t::

    import - export + pv - curtailed = base + devices + battery charge - discharge + ev charge - ev discharge

Discrete-phase cycles use start binaries with the cycle as a convolution
(no big-M on power); runs may not overlap (clique constraints over every
window of cycle length + gap).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pulp

from ems.optim.request import BatterySpec, DayRequest, DiscretePhaseDevice, EVSpec, PartialUsageDevice

Terms = list[tuple[pulp.LpVariable, float]]


@dataclass
class Model:
    """A PuLP problem plus the bookkeeping the ``define_*`` functions share."""

    request: DayRequest
    prob: pulp.LpProblem = field(default_factory=lambda: pulp.LpProblem("ems_day", pulp.LpMinimize))
    load: dict[int, Terms] = field(default_factory=lambda: defaultdict(list))
    energy_cost: Terms = field(default_factory=list)
    degradation: Terms = field(default_factory=list)
    penalty: Terms = field(default_factory=list)
    vars: dict[str, dict] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.request.n_steps

    @property
    def dt(self) -> float:
        return self.request.step_hours

    def var(self, name: str, low: float = 0.0, up: float | None = None, binary: bool = False) -> pulp.LpVariable:
        return pulp.LpVariable(name, lowBound=0 if binary else low, upBound=1 if binary else up,
                               cat=pulp.LpBinary if binary else pulp.LpContinuous)

    def add(self, terms: Terms, sense: int, rhs: float, name: str) -> None:
        self.prob += pulp.LpConstraint(pulp.LpAffineExpression(terms), sense, name=name, rhs=rhs)


def allowed_steps(pmf: list[float] | None, theta: float, earliest: int, latest: int, length: int = 1) -> list[int]:
    """Start steps k in [earliest, latest - length] whose whole run [k, k+length) has P >= theta.

    Without a PMF every start whose run fits in the window is allowed.
    """
    starts = np.arange(earliest, latest - length + 1)
    if pmf is None or len(starts) == 0:
        return starts.tolist()
    ok = np.asarray(pmf) >= theta
    window_ok = np.convolve(ok.astype(int), np.ones(length, dtype=int), mode="valid") == length
    return [int(k) for k in starts if window_ok[k]]


def define_grid(m: Model) -> None:
    """Import/export within limits; a binary forbids both at once where export pays at least import.

    PV may be curtailed (at no cost) when ``pv_curtailable``, e.g. when export prices are negative.
    """
    r = m.request
    imp = [m.var(f"import_{t}", 0, r.max_import_kw) for t in range(m.n)]
    exp = [m.var(f"export_{t}", 0, r.max_export_kw) for t in range(m.n)]
    curtail = [m.var(f"curtail_{t}", 0, r.pv_kw[t] if r.pv_curtailable else 0.0) for t in range(m.n)]
    for t in range(m.n):
        m.load[t] += [(imp[t], -1.0), (exp[t], 1.0), (curtail[t], 1.0)]
        m.energy_cost += [(imp[t], m.dt * r.import_price_eur_kwh[t]), (exp[t], -m.dt * r.export_price_eur_kwh[t])]
        if r.export_price_eur_kwh[t] >= r.import_price_eur_kwh[t] and r.max_import_kw > 0 and r.max_export_kw > 0:
            g = m.var(f"grid_dir_{t}", binary=True)
            m.add([(imp[t], 1.0), (g, -r.max_import_kw)], pulp.LpConstraintLE, 0.0, f"import_dir_{t}")
            m.add([(exp[t], 1.0), (g, r.max_export_kw)], pulp.LpConstraintLE, r.max_export_kw, f"export_dir_{t}")
    m.vars["grid"] = {"import": imp, "export": exp, "curtail": curtail}


def define_discrete_phase(m: Model, d: DiscretePhaseDevice) -> None:
    """``runs`` uninterrupted cycles; start binaries, cycle power as a convolution of the starts."""
    length = len(d.phases_kw)
    if d.runs == 0:
        m.vars[d.name] = {"starts": {}}
        return
    starts = allowed_steps(d.pmf, m.request.theta, d.earliest_start, d.latest_end, length)
    s = {k: m.var(f"{d.name}_start_{k}", binary=True) for k in starts}
    m.add([(v, 1.0) for v in s.values()], pulp.LpConstraintEQ, float(d.runs), f"{d.name}_runs")
    span = length + d.min_gap_steps
    if d.runs > 1:
        for t in range(d.earliest_start, d.latest_end):
            clique = [(s[k], 1.0) for k in range(t - span + 1, t + 1) if k in s]
            if len(clique) > 1:
                m.add(clique, pulp.LpConstraintLE, 1.0, f"{d.name}_no_overlap_{t}")
    for k, v in s.items():
        for j, p in enumerate(d.phases_kw):
            if p:
                m.load[k + j].append((v, p))
        if d.pmf is not None and d.preference_weight:
            m.penalty.append((v, d.preference_weight * (1.0 - d.pmf[k])))
    m.vars[d.name] = {"starts": s}


def define_partial_usage(m: Model, d: PartialUsageDevice) -> None:
    """``energy_kwh`` over the allowed steps of the window; semi-continuous when min_kw > 0."""
    steps = allowed_steps(d.pmf, m.request.theta, d.earliest_start, d.latest_end)
    q = {t: m.var(f"{d.name}_kw_{t}", 0, d.max_kw) for t in steps}
    m.add([(v, m.dt) for v in q.values()], pulp.LpConstraintEQ, d.energy_kwh, f"{d.name}_energy")
    for t, v in q.items():
        m.load[t].append((v, 1.0))
        if d.min_kw > 0:
            on = m.var(f"{d.name}_on_{t}", binary=True)
            m.add([(v, 1.0), (on, -d.max_kw)], pulp.LpConstraintLE, 0.0, f"{d.name}_max_{t}")
            m.add([(v, 1.0), (on, -d.min_kw)], pulp.LpConstraintGE, 0.0, f"{d.name}_min_{t}")
        if d.pmf is not None and d.preference_weight:
            m.penalty.append((v, d.preference_weight * (1.0 - d.pmf[t]) * m.dt))
    m.vars[d.name] = {"power": q}


def _storage(m: Model, name: str, steps: list[int], max_in: float, max_out: float, eta_in: float, eta_out: float,
             soc_init: float, soc_low: float, soc_high: float) -> dict:
    """Charge/discharge (grid side, kW) and SOC (kWh, at step boundaries) over ``steps``."""
    ch = {t: m.var(f"{name}_charge_{t}", 0, max_in) for t in steps}
    dis = {t: m.var(f"{name}_discharge_{t}", 0, max_out) for t in steps} if max_out > 0 else {}
    soc = [None] + [m.var(f"{name}_soc_{t + 1}", soc_low, soc_high) for t in range(m.n)]
    for t in range(m.n):
        terms: Terms = [(soc[t + 1], 1.0)] + ([(soc[t], -1.0)] if t else [])
        if t in ch:
            terms.append((ch[t], -m.dt * eta_in))
            m.load[t].append((ch[t], 1.0))
        if t in dis:
            terms.append((dis[t], m.dt / eta_out))
            m.load[t].append((dis[t], -1.0))
            both = m.var(f"{name}_dir_{t}", binary=True)
            m.add([(ch[t], 1.0), (both, -max_in)], pulp.LpConstraintLE, 0.0, f"{name}_charge_dir_{t}")
            m.add([(dis[t], 1.0), (both, max_out)], pulp.LpConstraintLE, max_out, f"{name}_discharge_dir_{t}")
        m.add(terms, pulp.LpConstraintEQ, soc_init if t == 0 else 0.0, f"{name}_soc_step_{t}")
    return {"charge": ch, "discharge": dis, "soc": soc}


def define_battery(m: Model, b: BatterySpec) -> None:
    """Home battery: SOC dynamics, bounds, end-of-horizon minimum, degradation per kWh throughput."""
    v = _storage(m, "battery", list(range(m.n)), b.max_charge_kw, b.max_discharge_kw, b.charge_efficiency,
                 b.discharge_efficiency, b.soc_init_kwh, b.soc_min_kwh, b.soc_max_kwh)
    m.add([(v["soc"][m.n], 1.0)], pulp.LpConstraintGE, b.soc_final_min_kwh, "battery_soc_final")
    m.degradation += [(x, b.degradation_eur_kwh * m.dt) for x in (*v["charge"].values(), *v["discharge"].values())]
    m.vars["battery"] = v


def define_ev(m: Model, ev: EVSpec) -> None:
    """EV: charging only while plugged in [arrival, deadline); SOC >= target at the deadline."""
    steps = list(range(ev.arrival_step, ev.deadline_step))
    v = _storage(m, "ev", steps, ev.max_charge_kw, ev.max_discharge_kw if ev.v2g else 0.0, ev.charge_efficiency,
                 ev.discharge_efficiency, ev.soc_init_kwh, 0.0, ev.capacity_kwh)
    if ev.deadline_step > 0:
        m.add([(v["soc"][ev.deadline_step], 1.0)], pulp.LpConstraintGE, ev.soc_target_kwh, "ev_target")
    m.vars["ev"] = v


def define_balance(m: Model) -> None:
    """Energy balance at every step: import - export + pv - curtailed = every load."""
    r = m.request
    for t in range(m.n):
        m.add([(v, -c) for v, c in m.load[t]], pulp.LpConstraintEQ, r.base_load_kw[t] - r.pv_kw[t], f"balance_{t}")


def define_objective(m: Model) -> None:
    """Energy cost + degradation + preference penalty (EUR)."""
    m.prob.setObjective(pulp.LpAffineExpression(m.energy_cost + m.degradation + m.penalty))


def build_model(request: DayRequest) -> Model:
    """The full MILP for ``request``."""
    m = Model(request)
    define_grid(m)
    for device in request.devices:
        if isinstance(device, DiscretePhaseDevice):
            define_discrete_phase(m, device)
        else:
            define_partial_usage(m, device)
    if request.battery is not None:
        define_battery(m, request.battery)
    if request.ev is not None:
        define_ev(m, request.ev)
    define_balance(m)
    define_objective(m)
    return m
