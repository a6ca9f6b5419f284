"""Kinds ``battery`` and ``ev``: storage with grid-side charge/discharge (kW) and SOC (kWh).

SOC at step boundaries: ``soc[t+1] = soc[t] + dt * (eta_in * charge[t] - discharge[t] / eta_out)``.
The battery is connected for the whole horizon and ends it with at least
``soc_final_min_kwh``. The EV is connected only during its plug-in sessions:
each session starts at ``soc_init_kwh`` at ``arrival_step`` and must hold at
least ``soc_target_kwh`` at ``deadline_step`` (when the car leaves); what it
drives between sessions is not modelled. A binary per step forbids charging
and discharging at once where discharging is possible.
Rules: the EV charges in its cheapest plugged-in steps; the battery charges in
the cheapest quarter of the steps and discharges (never beyond the house's
need) in the dearest quarter.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pulp
from pydantic import model_validator

from ems.optim.kinds.base import Efficiency, NonNegative, Record, Step
from ems.optim.result import DayResult, StorageSchedule

BATTERY_SHARE = 0.25  # rule-based: share of steps for battery charging (cheapest) and discharging (dearest)


class BatterySpec(Record):
    """Home battery; powers are grid-side kW, energies kWh, efficiencies one-way fractions."""

    label = "battery"
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


def _flow(m, name: str, steps: list[int], max_in: float, max_out: float) -> tuple[dict, dict]:
    """Charge/discharge variables (grid side, kW) over ``steps``, in the balance; direction binaries."""
    ch = {t: m.var(f"{name}_charge_{t}", 0, max_in) for t in steps}
    dis = {t: m.var(f"{name}_discharge_{t}", 0, max_out) for t in steps} if max_out > 0 else {}
    for t in steps:
        m.load[t].append((ch[t], 1.0))
        if t in dis:
            m.load[t].append((dis[t], -1.0))
            both = m.var(f"{name}_dir_{t}", binary=True)
            m.add([(ch[t], 1.0), (both, -max_in)], pulp.LpConstraintLE, 0.0, f"{name}_charge_dir_{t}")
            m.add([(dis[t], 1.0), (both, max_out)], pulp.LpConstraintLE, max_out, f"{name}_discharge_dir_{t}")
    return ch, dis


def _soc(m, name: str, first: int, last: int, ch: dict, dis: dict, eta_in: float, eta_out: float, init: float,
         low: float, high: float) -> dict[int, Any]:
    """SOC variables at boundaries first+1..last (soc[first] = init) following charge and discharge."""
    soc: dict[int, Any] = {first: None}
    for t in range(first, last):
        soc[t + 1] = m.var(f"{name}_soc_{t + 1}", low, high)
        terms = [(soc[t + 1], 1.0)] + ([(soc[t], -1.0)] if soc[t] is not None else [])
        if t in ch:
            terms.append((ch[t], -m.dt * eta_in))
        if t in dis:
            terms.append((dis[t], m.dt / eta_out))
        m.add(terms, pulp.LpConstraintEQ, init if t == first else 0.0, f"{name}_soc_step_{t}")
    return soc


def _values(variables: dict, n: int) -> np.ndarray:
    out = np.zeros(n)
    for t, v in variables.items():
        out[t] = v.varValue or 0.0
    return np.maximum(out, 0.0)


class BatteryKind:
    key = "battery"
    spec = BatterySpec
    follows_load = True  # the rules place it against the house load of everything else

    def define(self, m, b: BatterySpec) -> None:
        steps = list(range(m.n))
        ch, dis = _flow(m, "battery", steps, b.max_charge_kw, b.max_discharge_kw)
        soc = _soc(m, "battery", 0, m.n, ch, dis, b.charge_efficiency, b.discharge_efficiency, b.soc_init_kwh,
                   b.soc_min_kwh, b.soc_max_kwh)
        if m.n:
            m.add([(soc[m.n], 1.0)], pulp.LpConstraintGE, b.soc_final_min_kwh, "battery_soc_final")
        m.degradation += [(x, b.degradation_eur_kwh * m.dt) for x in (*ch.values(), *dis.values())]
        m.vars["battery"] = {"charge": ch, "discharge": dis, "soc": soc}

    def extract(self, m, b: BatterySpec, result: DayResult) -> None:
        v = m.vars["battery"]
        soc = [b.soc_init_kwh] + [v["soc"][t].varValue or 0.0 for t in range(1, m.n + 1)]
        result.battery = StorageSchedule(_values(v["charge"], m.n).tolist(), soc, _values(v["discharge"], m.n).tolist())

    def precheck(self, r, b: BatterySpec) -> list[str]:
        most = b.charge_efficiency * b.max_charge_kw * r.step_hours * r.n_steps
        if b.soc_final_min_kwh - b.soc_init_kwh > most + 1e-9:
            return [f"battery: soc_final_min_kwh={b.soc_final_min_kwh:g} unreachable from "
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
        result.battery = StorageSchedule(charge.tolist(), soc, discharge.tolist())
        return None

    def degradation_eur(self, r, b: BatterySpec, schedule: StorageSchedule) -> float:
        return b.degradation_eur_kwh * r.step_hours * (sum(schedule.charge_kw) + sum(schedule.discharge_kw or []))


class EVKind:
    key = "ev"
    spec = EVSpec
    follows_load = False

    def define(self, m, ev: EVSpec) -> None:
        plugged = np.flatnonzero(ev.plugged(m.n)).tolist()
        ch, dis = _flow(m, "ev", plugged, ev.max_charge_kw, ev.max_out_kw)
        socs = []
        for i, s in enumerate(ev.sessions):
            soc = _soc(m, f"ev_s{i}", s.arrival_step, s.deadline_step, ch, dis, ev.charge_efficiency,
                       ev.discharge_efficiency, s.soc_init_kwh, 0.0, ev.capacity_kwh)
            if s.deadline_step > s.arrival_step:
                m.add([(soc[s.deadline_step], 1.0)], pulp.LpConstraintGE, s.soc_target_kwh, f"ev_s{i}_target")
            socs.append(soc)
        m.vars["ev"] = {"charge": ch, "discharge": dis, "soc": socs}

    def extract(self, m, ev: EVSpec, result: DayResult) -> None:
        v = m.vars["ev"]
        levels = {}
        for s, soc in zip(ev.sessions, v["soc"]):
            levels[s.arrival_step] = s.soc_init_kwh
            levels.update({t: var.varValue or 0.0 for t, var in soc.items() if var is not None})
        result.ev = StorageSchedule(_values(v["charge"], m.n).tolist(), self.soc_path(ev, m.n, levels),
                                    _values(v["discharge"], m.n).tolist() if ev.v2g else None)

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
                problems.append(f"ev: {need:g} kWh needed by step {s.deadline_step}, at most {most:g} kWh chargeable")
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
        result.ev = self.from_charge(ev, charge, dt)
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


BATTERY = BatteryKind()
EV = EVKind()
