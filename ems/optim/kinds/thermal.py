"""Kind ``thermal``: a heat pump serving a building's heat balance (first-order, 1R1C) instead of a kWh quota.

The building's comfort path is the heat ``heat_kwh[t]`` (kWh_th per step) that
kept it comfortable (in the replay: the metered heat-pump energy times its
COP). A plan may deliver another heat profile ``cop[t] * power[t]`` (kW_th);
the indoor temperature then deviates from the path by ``deviation[t]`` (K),
which a 1R1C building (loss coefficient ``H = loss_kw_per_k``, kW_th/K; heat
capacity ``C = capacity_kwh_per_k``, kWh_th/K; time constant ``C / H`` hours)
relaxes back to 0, exactly discretised for a power constant over a step::

    deviation[t+1] = a * deviation[t] + (1 - a) / H * (cop[t] * power[t] - heat_kwh[t] / dt),   a = exp(-dt H / C)

The deviation starts at ``deviation_init_k``, stays in
[``deviation_min_k``, ``deviation_max_k``] at every step boundary (the comfort
band) and ends at least at ``deviation_final_min_k`` (0: the plan borrows no
heat from the day after). Pre-heating costs its extra losses and
electricity moves towards warmer hours where the COP is higher, so the energy
may differ from the path's. Power is 0..max_kw (kW, electric) within
[earliest_start, latest_end) (e.g. a heat-pump tariff's blocking hours outside).
A PMF is only a soft preference here (``preference_weight * (1 - P[t])`` EUR per
kWh), never a hard mask: the comfort band is the constraint.
Rules: a thermostat that brings the deviation back to 0 each step as far as max_kw allows.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from ems.optim.kinds.base import DeviceRecord, NonNegative, Positive, kwh_penalty_eur, place_window
from ems.optim.result import DayResult, DeviceSchedule

KEY = "thermal"
#: Largest comfort deviation a request may set (K).
MAX_DEVIATION_K = 50.0
Deviation = Annotated[float, Field(ge=-MAX_DEVIATION_K, le=MAX_DEVIATION_K, allow_inf_nan=False)]
#: Deviation (K) the checks and the rules allow beyond the band for solver round-off.
TOL_K = 1e-6


class ThermalDevice(DeviceRecord):
    """A heat pump of ``max_kw`` (kW electric) whose delivered heat must keep a 1R1C building within its comfort band."""

    label = "thermal device"
    per_step = ("heat_kwh", "cop")
    flex_model: Literal["thermal"] = "thermal"
    heat_kwh: list[NonNegative]
    cop: list[Positive]
    max_kw: NonNegative
    loss_kw_per_k: Positive
    capacity_kwh_per_k: Positive
    deviation_min_k: Deviation = -1.0
    deviation_max_k: Deviation = 1.0
    deviation_init_k: Deviation = 0.0
    deviation_final_min_k: Deviation = 0.0

    @model_validator(mode="after")
    def _band(self) -> "ThermalDevice":
        if len(self.cop) != len(self.heat_kwh):
            raise ValueError(f"cop: has {len(self.cop)} values, heat_kwh has {len(self.heat_kwh)} (one per step each)")
        if not self.deviation_min_k <= 0.0 <= self.deviation_max_k:
            raise ValueError(f"deviation_min_k={self.deviation_min_k:g}, deviation_max_k={self.deviation_max_k:g}: "
                             f"the band must hold the comfort path (min <= 0 <= max)")
        for key in ("deviation_init_k", "deviation_final_min_k"):
            if not self.deviation_min_k <= getattr(self, key) <= self.deviation_max_k:
                raise ValueError(f"{key}={getattr(self, key):g} is outside the band [{self.deviation_min_k:g}, "
                                 f"{self.deviation_max_k:g}] K")
        return self


def decay(d: ThermalDevice, step_hours: float) -> tuple[float, float]:
    """(a, g) of ``deviation[t+1] = a * deviation[t] + g * (cop * power - heat / dt)`` (g in K per kW_th)."""
    a = math.exp(-step_hours * d.loss_kw_per_k / d.capacity_kwh_per_k)
    return a, (1.0 - a) / d.loss_kw_per_k


def deviation_k(d: ThermalDevice, power_kw: np.ndarray, step_hours: float) -> np.ndarray:
    """The deviation (K) from the comfort path at each of the n + 1 step boundaries under ``power_kw``."""
    a, g = decay(d, step_hours)
    drive = g * (np.asarray(d.cop, float) * np.asarray(power_kw, float) - np.asarray(d.heat_kwh, float) / step_hours)
    out = np.empty(len(drive) + 1)
    out[0] = d.deviation_init_k
    for t, u in enumerate(drive):  # a first-order recursion: n steps (scipy.signal.lfilter is no faster at n = 24)
        out[t + 1] = a * out[t] + u
    return out


class ThermalKind:
    key = KEY
    metered = False
    spec = ThermalDevice

    def define(self, m, d: ThermalDevice) -> None:
        n, dt = m.n, m.dt
        a, g = decay(d, dt)
        t = np.arange(d.earliest_start, d.latest_end)
        p = m.columns(len(t), 0.0, d.max_kw)
        low = np.full(n + 1, d.deviation_min_k)
        up = np.full(n + 1, d.deviation_max_k)
        low[0] = up[0] = d.deviation_init_k
        low[n] = max(low[n], d.deviation_final_min_k)
        dev = m.columns(n + 1, low, up)
        heat = np.asarray(d.heat_kwh, float)
        rows = m.rows(n, -g * heat / dt, -g * heat / dt)  # dev[t+1] - a dev[t] - g cop[t] p[t] = -g heat[t] / dt
        m.coefs(rows, dev[1:], 1.0)
        m.coefs(rows, dev[:-1], -a)
        m.coefs(rows[t], p, -g * np.asarray(d.cop, float)[t])
        m.into_balance(p, t, 1.0)
        if d.pmf is not None and d.preference_weight:
            m.cost("penalty", p, d.preference_weight * (1.0 - np.asarray(d.pmf, float)[t]) * dt)
        m.devices[d.name] = (t, p, dev)

    def extract(self, m, x: np.ndarray, d: ThermalDevice, result: DayResult) -> None:
        t, p, _ = m.devices[d.name]
        power = np.zeros(m.n)
        power[t] = x[p]
        result.devices[d.name] = DeviceSchedule(np.clip(power, 0.0, d.max_kw).tolist())

    def from_power(self, d: ThermalDevice, power: np.ndarray) -> DeviceSchedule:
        return DeviceSchedule(np.asarray(power, float).tolist())

    def precheck(self, r, d: ThermalDevice) -> list[str]:
        most = np.zeros(r.n_steps)
        most[d.earliest_start:d.latest_end] = d.max_kw
        warmest = deviation_k(d, most, r.step_hours)  # the deviation is increasing in every step's power
        cold = np.flatnonzero(warmest[1:] < d.deviation_min_k - TOL_K)
        if len(cold):
            k = int(cold[0])
            return [f"{d.name}: comfort band: even at max_kw={d.max_kw:g} in [{d.earliest_start}, {d.latest_end}) "
                    f"the deviation falls to {warmest[k + 1]:.3g} K < deviation_min_k={d.deviation_min_k:g} "
                    f"by step {k + 1}"]
        if warmest[-1] < d.deviation_final_min_k - TOL_K:
            return [f"{d.name}: comfort band: even at max_kw={d.max_kw:g} the deviation ends at {warmest[-1]:.3g} K "
                    f"< deviation_final_min_k={d.deviation_final_min_k:g}"]
        coolest = deviation_k(d, np.zeros(r.n_steps), r.step_hours)
        hot = np.flatnonzero(coolest[1:] > d.deviation_max_k + TOL_K)
        if len(hot):
            k = int(hot[0])
            return [f"{d.name}: comfort band: even off the deviation rises to {coolest[k + 1]:.3g} K > "
                    f"deviation_max_k={d.deviation_max_k:g} by step {k + 1}"]
        return []

    def rule_schedule(self, r, d: ThermalDevice, price: np.ndarray, net_kw: np.ndarray,
                      result: DayResult) -> str | None:
        dt = r.step_hours
        a, g = decay(d, dt)
        power, dev = np.zeros(r.n_steps), d.deviation_init_k
        cop, heat = np.asarray(d.cop, float), np.asarray(d.heat_kwh, float)
        for t in range(r.n_steps):  # sequential by nature: each step starts where the last one ended
            if d.earliest_start <= t < d.latest_end:
                power[t] = np.clip((heat[t] / dt - a * dev / g) / cop[t], 0.0, d.max_kw)
            dev = a * dev + g * (cop[t] * power[t] - heat[t] / dt)
        path = deviation_k(d, power, dt)
        if (path < d.deviation_min_k - TOL_K).any() or (path > d.deviation_max_k + TOL_K).any() \
                or path[-1] < d.deviation_final_min_k - TOL_K:
            return f"{d.name}: rule_based (thermostat) cannot keep the comfort band"
        result.devices[d.name] = DeviceSchedule(power.tolist())
        return None

    def penalty_eur(self, r, d: ThermalDevice, schedule: DeviceSchedule) -> float:
        return kwh_penalty_eur(r, d, schedule.power_kw)

    def peak_kw(self, d: ThermalDevice) -> float:
        return d.max_kw

    def remainder(self, d: ThermalDevice, schedule: DeviceSchedule, t0: int, step_hours: float = 1.0
                  ) -> tuple[ThermalDevice | None, np.ndarray]:
        """The building from step ``t0`` on, starting from the deviation ``schedule`` left it at."""
        n = len(schedule.power_kw)
        if d.latest_end <= t0:  # it may no longer run: nothing is left to decide
            return None, np.zeros(n - t0)
        dev = float(deviation_k(d, schedule.power_kw, step_hours)[t0])
        dev = min(max(dev, d.deviation_min_k), d.deviation_max_k)  # round-off of a solved plan
        update = {"heat_kwh": list(d.heat_kwh[t0:]), "cop": list(d.cop[t0:]), "deviation_init_k": dev,
                  "earliest_start": max(d.earliest_start - t0, 0), "latest_end": max(d.latest_end - t0, 0)}
        if d.pmf is not None:
            update["pmf"] = list(d.pmf[t0:])
        return d.model_copy(update=update), np.zeros(n - t0)

    def placed(self, d: ThermalDevice, offset: int, n_steps: int) -> ThermalDevice:
        """In a longer horizon: no heat is needed outside its own steps (COP 1 there; it may not run)."""
        before, after = offset, n_steps - offset - len(d.heat_kwh)
        placed = place_window(d, offset, n_steps)
        return placed.model_copy(update={"heat_kwh": [0.0] * before + list(d.heat_kwh) + [0.0] * after,
                                         "cop": [1.0] * before + list(d.cop) + [1.0] * after})


KIND = ThermalKind()
