"""Kind ``discrete_phase``: a fixed cycle of per-step powers, run uninterrupted ``runs`` times.

MILP: one start binary per allowed start step; the cycle's power is the
convolution of the starts with the phases (no big-M); runs may not overlap
(clique constraints over every window of cycle length + gap). With a PMF a
cycle may start only where every step of it has P >= theta, and
``preference_weight * (1 - P[start])`` EUR is added per start.
Rules: each run in the cheapest allowed window avoiding the top-quarter price steps.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import model_validator

from ems.optim.kinds.base import DeviceRecord, NonNegative, Step, allowed_steps, place_window
from ems.optim.result import DayResult, DeviceSchedule

KEY = "discrete_phase"
EXPENSIVE_QUANTILE = 0.75  # rule-based: cycles avoid steps priced at or above this quantile


class DiscretePhaseDevice(DeviceRecord):
    """A cycle of per-step powers (kW) run ``runs`` times uninterrupted in [earliest_start, latest_end) steps."""

    label = "discrete-phase device"
    flex_model: Literal["discrete_phase"] = "discrete_phase"
    phases_kw: list[NonNegative]
    runs: Step = 1
    min_gap_steps: Step = 0

    @model_validator(mode="after")
    def _cycle(self) -> "DiscretePhaseDevice":
        if not self.phases_kw:
            raise ValueError("phases_kw: needs at least one phase")
        return self


class CycleKind:
    key = KEY
    metered = True
    spec = DiscretePhaseDevice

    def define(self, m, d: DiscretePhaseDevice) -> None:
        length = len(d.phases_kw)
        if d.runs == 0:
            m.devices[d.name] = (np.zeros(0, int), np.zeros(0, int))
            return
        k = np.asarray(allowed_steps(d.pmf, m.request.theta, d.earliest_start, d.latest_end, length), dtype=int)
        s = m.columns(len(k), binary=True)
        m.coefs(m.rows(1, float(d.runs), float(d.runs))[0], s, 1.0)
        if d.runs > 1:  # no two starts within one cycle + gap: a clique row per step with > 1 candidate
            span = length + d.min_gap_steps
            t = np.arange(d.earliest_start, d.latest_end)[:, None]
            member = (k[None, :] > t - span) & (k[None, :] <= t)
            member = member[member.sum(axis=1) > 1]
            if len(member):
                i, j = np.nonzero(member)
                m.coefs(m.rows(len(member), -np.inf, 1.0)[i], s[j], 1.0)
        phases = np.asarray(d.phases_kw, float)
        on = np.flatnonzero(phases)
        m.into_balance(s[:, None], k[:, None] + on[None, :], phases[on][None, :])
        if d.pmf is not None and d.preference_weight:
            m.cost("penalty", s, d.preference_weight * (1.0 - np.asarray(d.pmf, float)[k]))
        m.devices[d.name] = (k, s)

    def extract(self, m, x: np.ndarray, d: DiscretePhaseDevice, result: DayResult) -> None:
        k, s = m.devices[d.name]
        result.devices[d.name] = self.schedule(d, k[x[s] > 0.5].tolist(), m.n)

    @staticmethod
    def schedule(d: DiscretePhaseDevice, starts: list[int], n: int) -> DeviceSchedule:
        power = np.zeros(n)
        for k in starts:
            power[k:k + len(d.phases_kw)] += d.phases_kw
        return DeviceSchedule(power.tolist(), list(starts))

    def from_power(self, d: DiscretePhaseDevice, power: np.ndarray) -> DeviceSchedule:
        """The schedule of a metered run (its first active step is the start)."""
        active = np.flatnonzero(power)
        return DeviceSchedule(np.asarray(power, float).tolist(), [int(active[0])] if len(active) else [])

    def precheck(self, r, d: DiscretePhaseDevice) -> list[str]:
        window = f"[{d.earliest_start}, {d.latest_end})"
        length, room = len(d.phases_kw), d.latest_end - d.earliest_start
        if d.runs and length > room:
            return [f"{d.name}: a {length}-step cycle cannot fit in {window}"]
        need = d.runs * length + max(d.runs - 1, 0) * d.min_gap_steps
        if need > room:
            return [f"{d.name}: {d.runs} runs of {length} steps (gap {d.min_gap_steps}) need {need} steps, "
                    f"{window} has {room}"]
        if d.runs and not allowed_steps(d.pmf, r.theta, d.earliest_start, d.latest_end, length):
            return [f"{d.name}: no start in {window} where all {length} steps have P >= theta={r.theta}"]
        return []

    def rule_schedule(self, r, d: DiscretePhaseDevice, price: np.ndarray, net_kw: np.ndarray,
                      result: DayResult) -> str | None:
        length = len(d.phases_kw)
        expensive = price >= np.quantile(price, EXPENSIVE_QUANTILE)
        starts: list[int] = []
        busy_until = -1
        for _ in range(d.runs):
            candidates = [k for k in allowed_steps(d.pmf, r.theta, d.earliest_start, d.latest_end, length)
                          if k > busy_until]
            if not candidates:
                return f"{d.name}: rule_based finds no start for run {len(starts) + 1} in " \
                       f"[{d.earliest_start}, {d.latest_end})"
            cost = {k: float(np.dot(price[k:k + length], d.phases_kw)) for k in candidates}
            calm = [k for k in candidates if not expensive[k:k + length].any()]
            k = min(calm or candidates, key=lambda s: (cost[s], s))
            starts.append(k)
            busy_until = k + length - 1 + d.min_gap_steps
        result.devices[d.name] = self.schedule(d, starts, r.n_steps)
        return None

    def penalty_eur(self, r, d: DiscretePhaseDevice, schedule: DeviceSchedule) -> float:
        if d.pmf is None or not d.preference_weight:
            return 0.0
        return d.preference_weight * sum(1.0 - d.pmf[k] for k in schedule.starts or [])

    def peak_kw(self, d: DiscretePhaseDevice) -> float:
        return max(d.phases_kw) * max(d.runs, 1)

    def remainder(self, d: DiscretePhaseDevice, schedule: DeviceSchedule, t0: int, step_hours: float = 1.0
                  ) -> tuple[DiscretePhaseDevice | None, np.ndarray]:
        """Runs started before ``t0`` run on (their power from ``t0`` is committed); the other runs
        may still start from ``t0`` (after the last started run and its gap) to the window's end."""
        n = len(schedule.power_kw)
        started = [k for k in schedule.starts or [] if k < t0]
        running = np.asarray(self.schedule(d, started, n).power_kw[t0:], float)
        left = d.runs - len(started)
        if left <= 0:
            return None, running
        earliest = max(d.earliest_start, t0, *(k + len(d.phases_kw) + d.min_gap_steps for k in started))
        update = {"runs": left, "earliest_start": earliest - t0, "latest_end": max(d.latest_end - t0, earliest - t0)}
        if d.pmf is not None:
            update["pmf"] = list(d.pmf[t0:])
        return d.model_copy(update=update), running

    def placed(self, d: DiscretePhaseDevice, offset: int, n_steps: int) -> DiscretePhaseDevice:
        return place_window(d, offset, n_steps)


KIND = CycleKind()
