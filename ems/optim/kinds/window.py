"""Kind ``partial_usage``: an energy window. ``energy_kwh`` delivered in [earliest_start, latest_end)
at 0..max_kw per step (semi-continuous 0 or min_kw..max_kw when min_kw > 0).

With a PMF only steps with P >= theta may deliver, and
``preference_weight * (1 - P[t])`` EUR is added per kWh delivered in step t.
Rules: the cheapest allowed steps are filled first.
"""

from __future__ import annotations

import math

from typing import Literal

import numpy as np
from pydantic import model_validator

from ems.optim.kinds.base import DeviceRecord, NonNegative, allowed_steps, kwh_penalty_eur, place_window
from ems.optim.result import DayResult, DeviceSchedule

KEY = "partial_usage"


class PartialUsageDevice(DeviceRecord):
    """``energy_kwh`` within [earliest_start, latest_end) steps at most ``max_kw`` (kW) per step."""

    label = "partial-usage device"
    flex_model: Literal["partial_usage"] = "partial_usage"
    energy_kwh: NonNegative
    max_kw: NonNegative
    min_kw: NonNegative = 0.0

    @model_validator(mode="after")
    def _bounds(self) -> "PartialUsageDevice":
        if self.min_kw > self.max_kw:
            raise ValueError(f"min_kw={self.min_kw} exceeds max_kw={self.max_kw}")
        return self


class WindowKind:
    key = KEY
    metered = True
    spec = PartialUsageDevice

    def define(self, m, d: PartialUsageDevice) -> None:
        t = np.asarray(allowed_steps(d.pmf, m.request.theta, d.earliest_start, d.latest_end), dtype=int)
        q = m.columns(len(t), 0.0, d.max_kw)
        m.coefs(m.rows(1, d.energy_kwh, d.energy_kwh)[0], q, m.dt)
        m.into_balance(q, t, 1.0)
        on = None
        if d.min_kw > 0:  # semi-continuous: q = 0 or min_kw <= q <= max_kw
            on = m.columns(len(t), binary=True)
            upper = m.rows(len(t), -np.inf, 0.0)
            m.coefs(upper, q, 1.0)
            m.coefs(upper, on, -d.max_kw)
            lower = m.rows(len(t), 0.0, np.inf)
            m.coefs(lower, q, 1.0)
            m.coefs(lower, on, -d.min_kw)
        if d.pmf is not None and d.preference_weight:
            m.cost("penalty", q, d.preference_weight * (1.0 - np.asarray(d.pmf, float)[t]) * m.dt)
        m.devices[d.name] = (t, q, on)

    def extract(self, m, x: np.ndarray, d: PartialUsageDevice, result: DayResult) -> None:
        t, q, _ = m.devices[d.name]
        power = np.zeros(m.n)
        power[t] = x[q]
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
        top = d.max_kw * r.step_hours
        if d.min_kw > 0 and d.energy_kwh > 1e-9 and top > 0:  # k steps on deliver k * min_kw .. k * max_kw
            fewest = math.ceil(d.energy_kwh / top - 1e-9)
            least = d.min_kw * r.step_hours
            ratio = d.energy_kwh / least if least > 0 else math.inf
            most_on = len(steps) if ratio >= len(steps) else math.floor(ratio + 1e-9)
            if fewest > most_on:
                return [f"{d.name}: min_kw={d.min_kw:g}: {d.energy_kwh:g} kWh cannot be delivered by steps of "
                        f"{d.min_kw * r.step_hours:g} to {d.max_kw * r.step_hours:g} kWh each (min_kw to "
                        f"max_kw={d.max_kw:g}) in the {len(steps)} allowed steps"]
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
        return kwh_penalty_eur(r, d, schedule.power_kw)

    def peak_kw(self, d: PartialUsageDevice) -> float:
        return d.max_kw

    def remainder(self, d: PartialUsageDevice, schedule: DeviceSchedule, t0: int, step_hours: float = 1.0
                  ) -> tuple[PartialUsageDevice | None, np.ndarray]:
        """The energy not yet delivered before ``t0``, in what is left of the window."""
        n = len(schedule.power_kw)
        done = float(np.sum(schedule.power_kw[:t0])) * step_hours
        left = max(d.energy_kwh - done, 0.0)
        if d.latest_end <= t0 or left <= 1e-9:
            return None, np.zeros(n - t0)
        update = {"energy_kwh": left, "earliest_start": max(d.earliest_start - t0, 0), "latest_end": d.latest_end - t0}
        if d.pmf is not None:
            update["pmf"] = list(d.pmf[t0:])
        return d.model_copy(update=update), np.zeros(n - t0)

    def placed(self, d: PartialUsageDevice, offset: int, n_steps: int) -> PartialUsageDevice:
        return place_window(d, offset, n_steps)


KIND = WindowKind()
