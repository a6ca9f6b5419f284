"""Kinds ``battery`` and ``ev``: storage with grid-side charge/discharge (kW) and SOC (kWh).

SOC at step boundaries: ``soc[t+1] = soc[t] + dt * (eta_in * charge[t] - discharge[t] / eta_out)``.
The battery is connected for the whole horizon and ends it with at least
``soc_final_min_kwh``. The EV is connected only during its plug-in sessions:
each session starts at ``soc_init_kwh`` at ``arrival_step`` and must hold at
least ``soc_target_kwh`` at ``deadline_step`` (when the car leaves); what it
drives between sessions is not modelled. A binary per step forbids charging
and discharging at once where that could pay (:func:`needs_direction`).
Rules: the EV charges in its cheapest plugged-in steps; the battery charges in
the cheapest quarter of the steps and discharges (never beyond the house's
need) in the dearest quarter.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import model_validator

from ems.optim.kinds.base import Efficiency, Name, NonNegative, Record, Step
from ems.optim.result import DayResult, StorageSchedule

BATTERY_SHARE = 0.25  # rule-based: share of steps for battery charging (cheapest) and discharging (dearest)


class BatterySpec(Record):
    """Home battery; powers are grid-side kW, energies kWh, efficiencies one-way fractions."""

    label = "battery"
    #: Names the battery in the result (``storages``) and in every message; unique within a request.
    name: Name = "battery"
    capacity_kwh: NonNegative
    max_charge_kw: NonNegative
    max_discharge_kw: NonNegative
    soc_init_kwh: NonNegative
    soc_final_min_kwh: NonNegative = 0.0
    soc_min_kwh: NonNegative = 0.0
    soc_max_kwh: NonNegative | None = None
    charge_efficiency: Efficiency = 1.0
    discharge_efficiency: Efficiency = 1.0
    degradation_eur_kwh: NonNegative = 0.0

    @model_validator(mode="after")
    def _levels(self) -> "BatterySpec":
        if self.soc_max_kwh is None:
            self.soc_max_kwh = self.capacity_kwh
        if not self.soc_min_kwh <= self.soc_max_kwh <= self.capacity_kwh:
            raise ValueError(f"soc_max_kwh={self.soc_max_kwh:g}: need soc_min_kwh={self.soc_min_kwh:g} <= "
                             f"soc_max_kwh <= capacity_kwh={self.capacity_kwh:g}")
        for key in ("soc_init_kwh", "soc_final_min_kwh"):
            if not self.soc_min_kwh <= getattr(self, key) <= self.soc_max_kwh:
                raise ValueError(f"{key}={getattr(self, key):g} is outside [soc_min_kwh, soc_max_kwh] = "
                                 f"[{self.soc_min_kwh:g}, {self.soc_max_kwh:g}]")
        return self

    @property
    def max_out_kw(self) -> float:
        return self.max_discharge_kw


class EVSession(Record):
    """Plugged in during steps [arrival_step, deadline_step); SOC soc_init_kwh on arrival, >= soc_target_kwh on leaving."""

    label = "EV session"
    soc_init_kwh: NonNegative
    soc_target_kwh: NonNegative
    arrival_step: Step = 0
    deadline_step: Step | None = None


SESSION_KEYS = ("soc_init_kwh", "soc_target_kwh", "arrival_step", "deadline_step")


class EVSpec(Record):
    """An EV charged at home during ``sessions`` (a single session may be given flat, as its four keys)."""

    label = "ev"
    #: Names the EV in the result (``storages``) and in every message; unique within a request.
    name: Name = "ev"
    capacity_kwh: NonNegative
    max_charge_kw: NonNegative
    sessions: list[EVSession]
    charge_efficiency: Efficiency = 1.0
    v2g: bool = False
    max_discharge_kw: NonNegative = 0.0
    discharge_efficiency: Efficiency = 1.0

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "sessions" not in data and any(k in data for k in SESSION_KEYS):
            data = {k: v for k, v in data.items() if k not in SESSION_KEYS} | {
                "sessions": [{k: data[k] for k in SESSION_KEYS if k in data}]}
        return cls.check_keys(data)

    @model_validator(mode="after")
    def _sessions(self) -> "EVSpec":
        end = -1
        for i, s in enumerate(self.sessions):
            for key in ("soc_init_kwh", "soc_target_kwh"):
                if getattr(s, key) > self.capacity_kwh:
                    raise ValueError(f"sessions[{i}].{key}={getattr(s, key):g} exceeds capacity_kwh="
                                     f"{self.capacity_kwh:g}")
            if s.deadline_step is not None and s.deadline_step < s.arrival_step:
                raise ValueError(f"sessions[{i}].deadline_step={s.deadline_step} is before arrival_step="
                                 f"{s.arrival_step}")
            if s.arrival_step < end:
                raise ValueError(f"sessions[{i}].arrival_step={s.arrival_step} overlaps the session before "
                                 f"(ends at step {end}); sessions must be in time order")
            end = s.deadline_step if s.deadline_step is not None else math.inf  # open: to the horizon's end
        return self

    @property
    def max_out_kw(self) -> float:
        return self.max_discharge_kw if self.v2g else 0.0

    def plugged(self, n: int) -> np.ndarray:
        mask = np.zeros(n, dtype=bool)
        for s in self.sessions:
            mask[s.arrival_step:s.deadline_step] = True
        return mask


def needs_direction(m, steps: np.ndarray, eta_in: float, eta_out: float, degradation_eur_kwh: float) -> np.ndarray:
    """Whether each of ``steps`` needs a binary forbidding charge and discharge at once (bool per step).

    It does not where all three hold, because then lowering a simultaneous
    charge c by e and discharge d by e * eta_in * eta_out keeps every SOC, lowers
    the grid load by e * (1 - eta_in * eta_out) and the wear by
    degradation * dt * e * (1 + eta_in * eta_out), so it cannot raise the cost:
      1. import and export prices of the step are >= 0 (less import or more export never costs);
      2. the storage loses something on a round trip: degradation > 0 or eta_in * eta_out < 1
         (else doing both is a tie, which a solver may return);
      3. the export limit exceeds PV plus every storage's discharge power in the step, so
         the export can always take the lowered load.
    With ``m.full`` every step gets its binary. Either way the solution is checked for
    simultaneity (``Model.pairs``) and solved again with every binary if it shows any.
    """
    if m.full:
        return np.ones(len(steps), dtype=bool)
    r = m.request
    buy, sell = np.asarray(r.import_price_eur_kwh, float)[steps], np.asarray(r.export_price_eur_kwh, float)[steps]
    lossy = degradation_eur_kwh > 0 or eta_in * eta_out < 1
    outflow = np.asarray(r.pv_kw, float)[steps] + sum(spec.max_out_kw for _, spec in r.storages())
    free = (buy >= 0) & (sell >= 0) & lossy & (r.grid.max_export_kw > outflow)
    return ~free


def _flow(m, name: str, steps: np.ndarray, max_in: float, max_out: float, eta_in: float, eta_out: float,
          degradation_eur_kwh: float = 0.0) -> tuple[np.ndarray, np.ndarray | None]:
    """Charge/discharge columns (grid side, kW) over ``steps``, in the balance; direction binaries where needed."""
    ch = m.columns(len(steps), 0.0, max_in)
    m.into_balance(ch, steps, 1.0)
    if max_out <= 0:
        return ch, None
    dis = m.columns(len(steps), 0.0, max_out)
    m.into_balance(dis, steps, -1.0)
    m.pair(name, ch, dis, max_in, max_out, needs_direction(m, steps, eta_in, eta_out, degradation_eur_kwh))
    return ch, dis


def _soc(m, first: int, last: int, at: np.ndarray, ch: np.ndarray, dis: np.ndarray | None, eta_in: float,
         eta_out: float, init: float, low: float, high: float) -> np.ndarray:
    """SOC columns at boundaries first+1..last (soc[first] = init) following charge and discharge;
    ``at[t]`` is the position of step t in ``ch``/``dis``."""
    count = last - first
    soc = m.columns(count, low, high)
    if count == 0:
        return soc
    rhs = np.zeros(count)
    rhs[0] = init
    rows = m.rows(count, rhs, rhs)
    m.coefs(rows, soc, 1.0)
    m.coefs(rows[1:], soc[:-1], -1.0)
    flow = at[first:last]
    m.coefs(rows, ch[flow], -m.dt * eta_in)
    if dis is not None:
        m.coefs(rows, dis[flow], m.dt / eta_out)
    return soc


def _values(x: np.ndarray, cols: np.ndarray | None, steps: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n)
    if cols is not None:
        out[steps] = x[cols]
    return np.maximum(out, 0.0)


class BatteryKind:
    key = "battery"
    spec = BatterySpec
    follows_load = True  # the rules place it against the house load of everything else

    def define(self, m, b: BatterySpec) -> None:
        steps = np.arange(m.n)
        ch, dis = _flow(m, b.name, steps, b.max_charge_kw, b.max_discharge_kw, b.charge_efficiency,
                        b.discharge_efficiency, b.degradation_eur_kwh)
        soc = _soc(m, 0, m.n, steps, ch, dis, b.charge_efficiency, b.discharge_efficiency, b.soc_init_kwh,
                   b.soc_min_kwh, b.soc_max_kwh)
        if m.n:
            m.coefs(m.rows(1, b.soc_final_min_kwh, np.inf)[0], soc[-1], 1.0)
        m.cost("degradation", ch, b.degradation_eur_kwh * m.dt)
        if dis is not None:
            m.cost("degradation", dis, b.degradation_eur_kwh * m.dt)
        m.vars[b.name] = {"charge": ch, "discharge": dis, "soc": soc}

    def extract(self, m, x: np.ndarray, b: BatterySpec, result: DayResult) -> None:
        v, steps = m.vars[b.name], np.arange(m.n)
        soc = [b.soc_init_kwh] + x[v["soc"]].tolist()
        result.storages[b.name] = StorageSchedule(_values(x, v["charge"], steps, m.n).tolist(), soc,
                                         _values(x, v["discharge"], steps, m.n).tolist())

    def precheck(self, r, b: BatterySpec) -> list[str]:
        most = b.charge_efficiency * b.max_charge_kw * r.step_hours * r.n_steps
        if b.soc_final_min_kwh - b.soc_init_kwh > most + 1e-9:
            return [f"{b.name}: soc_final_min_kwh={b.soc_final_min_kwh:g} unreachable from "
                    f"soc_init_kwh={b.soc_init_kwh:g}, at most {most:g} kWh chargeable"]
        return []

    def rule_schedule(self, r, b: BatterySpec, price: np.ndarray, net_kw: np.ndarray, result: DayResult) -> None:
        dt, n = r.step_hours, r.n_steps
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
        result.storages[b.name] = StorageSchedule(charge.tolist(), soc, discharge.tolist())
        return None

    def degradation_eur(self, r, b: BatterySpec, schedule: StorageSchedule) -> float:
        return b.degradation_eur_kwh * r.step_hours * (sum(schedule.charge_kw) + sum(schedule.discharge_kw or []))

    def remainder(self, b: BatterySpec, schedule: StorageSchedule, t0: int) -> BatterySpec:
        soc = min(max(schedule.soc_kwh[t0], b.soc_min_kwh), b.soc_max_kwh)  # a solver's tolerance, clamped
        return b.model_copy(update={"soc_init_kwh": soc})


class EVKind:
    key = "ev"
    spec = EVSpec
    follows_load = False

    def define(self, m, ev: EVSpec) -> None:
        plugged = np.flatnonzero(ev.plugged(m.n))
        at = np.full(m.n, -1)
        at[plugged] = np.arange(len(plugged))
        ch, dis = _flow(m, ev.name, plugged, ev.max_charge_kw, ev.max_out_kw, ev.charge_efficiency,
                        ev.discharge_efficiency)
        socs = []
        for s in ev.sessions:
            soc = _soc(m, s.arrival_step, s.deadline_step, at, ch, dis, ev.charge_efficiency,
                       ev.discharge_efficiency, s.soc_init_kwh, 0.0, ev.capacity_kwh)
            if s.deadline_step > s.arrival_step:
                m.coefs(m.rows(1, s.soc_target_kwh, np.inf)[0], soc[-1], 1.0)
            socs.append(soc)
        m.vars[ev.name] = {"steps": plugged, "charge": ch, "discharge": dis, "soc": socs}

    def extract(self, m, x: np.ndarray, ev: EVSpec, result: DayResult) -> None:
        v = m.vars[ev.name]
        levels = {}
        for s, soc in zip(ev.sessions, v["soc"]):
            levels[s.arrival_step] = s.soc_init_kwh
            levels.update(zip(range(s.arrival_step + 1, s.deadline_step + 1), x[soc].tolist()))
        result.storages[ev.name] = StorageSchedule(_values(x, v["charge"], v["steps"], m.n).tolist(), self.soc_path(ev, m.n, levels),
                                    _values(x, v["discharge"], v["steps"], m.n).tolist() if ev.v2g else None)

    @staticmethod
    def soc_path(ev: EVSpec, n: int, levels: dict[int, float]) -> list[float]:
        """SOC at the n + 1 boundaries: each session's levels, held while the car is away."""
        first = ev.sessions[0].soc_init_kwh if ev.sessions else 0.0
        path, level = [], first
        for t in range(n + 1):
            level = levels.get(t, level)
            path.append(level)
        return path

    def precheck(self, r, ev: EVSpec) -> list[str]:
        problems = []
        for s in ev.sessions:
            need = s.soc_target_kwh - s.soc_init_kwh
            most = ev.charge_efficiency * ev.max_charge_kw * r.step_hours * (s.deadline_step - s.arrival_step)
            if need > most + 1e-9:
                problems.append(f"{ev.name}: {need:g} kWh needed by step {s.deadline_step}, at most {most:g} kWh chargeable")
        return problems

    def rule_schedule(self, r, ev: EVSpec, price: np.ndarray, net_kw: np.ndarray, result: DayResult) -> None:
        dt, n = r.step_hours, r.n_steps
        charge = np.zeros(n)
        for s in ev.sessions:
            need = max(s.soc_target_kwh - s.soc_init_kwh, 0.0)
            for t in sorted(range(s.arrival_step, s.deadline_step), key=lambda t: (price[t], t)):
                if need <= 1e-12:
                    break
                charge[t] = min(ev.max_charge_kw, need / (ev.charge_efficiency * dt))
                need -= charge[t] * ev.charge_efficiency * dt
        result.storages[ev.name] = self.from_charge(ev, charge, dt)
        return None

    def from_charge(self, ev: EVSpec, charge_kw: np.ndarray, dt: float) -> StorageSchedule:
        """The schedule of a given charging profile (kW per step; no discharge), SOC per session."""
        charge = np.asarray(charge_kw, dtype=float)
        levels: dict[int, float] = {}
        for s in ev.sessions:
            steps = np.arange(s.arrival_step, s.deadline_step)
            gained = np.cumsum(charge[steps] * ev.charge_efficiency * dt)
            levels[s.arrival_step] = s.soc_init_kwh
            levels.update({int(t) + 1: s.soc_init_kwh + g for t, g in zip(steps, gained)})
        n = len(charge)
        return StorageSchedule(charge.tolist(), self.soc_path(ev, n, levels), [0.0] * n if ev.v2g else None)

    def degradation_eur(self, r, ev: EVSpec, schedule: StorageSchedule) -> float:
        return 0.0

    def remainder(self, ev: EVSpec, schedule: StorageSchedule, t0: int) -> EVSpec | None:
        """Sessions that ended by ``t0`` are gone; the one in progress continues from its SOC at ``t0``."""
        sessions = []
        for s in ev.sessions:
            if s.deadline_step <= t0:
                continue
            if s.arrival_step < t0:
                soc = min(max(schedule.soc_kwh[t0], 0.0), ev.capacity_kwh)
                s = s.model_copy(update={"soc_init_kwh": soc, "arrival_step": t0})
            sessions.append(s.model_copy(update={"arrival_step": s.arrival_step - t0,
                                                 "deadline_step": s.deadline_step - t0}))
        return ev.model_copy(update={"sessions": sessions}) if sessions else None


BATTERY = BatteryKind()
EV = EVKind()
