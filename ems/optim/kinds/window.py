"""Kind ``partial_usage``: an energy window. ``energy_kwh`` delivered in [earliest_start, latest_end)
at 0..max_kw per step (semi-continuous 0 or min_kw..max_kw when min_kw > 0).

With a PMF only steps with P >= theta may deliver, and
``preference_weight * (1 - P[t])`` EUR is added per kWh delivered in step t.
Rules: the cheapest allowed steps are filled first.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pulp
from pydantic import model_validator

from ems.optim.kinds.base import Name, NonNegative, Record, Step, allowed_steps
from ems.optim.result import DayResult, DeviceSchedule

KEY = "partial_usage"


class PartialUsageDevice(Record):
    """``energy_kwh`` within [earliest_start, latest_end) steps at most ``max_kw`` (kW) per step."""

    label = "partial-usage device"
    name: Name
    flex_model: Literal["partial_usage"] = "partial_usage"
    energy_kwh: NonNegative
    max_kw: NonNegative
    earliest_start: Step = 0
    latest_end: Step | None = None
    min_kw: NonNegative = 0.0
    pmf: list[NonNegative] | None = None
    preference_weight: NonNegative = 0.0

    @model_validator(mode="after")
    def _bounds(self) -> "PartialUsageDevice":
        if self.min_kw > self.max_kw:
            raise ValueError(f"min_kw={self.min_kw} exceeds max_kw={self.max_kw}")
        return self


class WindowKind:
    key = KEY
    spec = PartialUsageDevice

    def define(self, m, d: PartialUsageDevice) -> None:
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
        m.vars[d.name] = q

    def extract(self, m, d: PartialUsageDevice, result: DayResult) -> None:
        power = np.zeros(m.n)
        for t, v in m.vars[d.name].items():
            power[t] = v.varValue or 0.0
        result.devices[d.name] = DeviceSchedule(np.maximum(power, 0.0).tolist())

    def from_power(self, d: PartialUsageDevice, power: np.ndarray) -> DeviceSchedule:
        return DeviceSchedule(np.asarray(power, float).tolist())

    def precheck(self, r, d: PartialUsageDevice) -> list[str]:
        window = f"[{d.earliest_start}, {d.latest_end})"
        steps = allowed_steps(d.pmf, r.theta, d.earliest_start, d.latest_end)
        most = d.max_kw * r.step_hours * len(steps)
        if d.energy_kwh > most + 1e-9:
            where = window if d.pmf is None else f"the {len(steps)} steps of {window} with P >= theta={r.theta}"
            return [f"{d.name}: {d.energy_kwh:g} kWh needed in {where}, at most {most:g} kWh deliverable"]
        return []

    def rule_schedule(self, r, d: PartialUsageDevice, price: np.ndarray, net_kw: np.ndarray,
                      result: DayResult) -> str | None:
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
            return f"{d.name}: rule_based cannot deliver {d.energy_kwh:g} kWh in its allowed steps"
        if remaining < -1e-9:  # a min_kw step overshot: take the excess back from the dearest step above min_kw
            t = max((t for t in np.flatnonzero(power) if power[t] - d.min_kw >= -remaining / r.step_hours),
                    key=lambda t: price[t], default=None)
            if t is None:
                return f"{d.name}: rule_based cannot meet min_kw={d.min_kw:g} and {d.energy_kwh:g} kWh exactly"
            power[t] += remaining / r.step_hours
        result.devices[d.name] = DeviceSchedule(power.tolist())
        return None

    def penalty_eur(self, r, d: PartialUsageDevice, schedule: DeviceSchedule) -> float:
        if d.pmf is None or not d.preference_weight:
            return 0.0
        return d.preference_weight * r.step_hours * float(np.dot(1.0 - np.asarray(d.pmf), schedule.power_kw))

    def peak_kw(self, d: PartialUsageDevice) -> float:
        return d.max_kw


KIND = WindowKind()
