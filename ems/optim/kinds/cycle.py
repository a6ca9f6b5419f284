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
import pulp
from pydantic import model_validator

from ems.optim.kinds.base import Name, NonNegative, Record, Step, allowed_steps
from ems.optim.result import DayResult, DeviceSchedule

KEY = "discrete_phase"
EXPENSIVE_QUANTILE = 0.75  # rule-based: cycles avoid steps priced at or above this quantile


class DiscretePhaseDevice(Record):
    """A cycle of per-step powers (kW) run ``runs`` times uninterrupted in [earliest_start, latest_end) steps."""

    label = "discrete-phase device"
    name: Name
    flex_model: Literal["discrete_phase"] = "discrete_phase"
    phases_kw: list[NonNegative]
    runs: Step = 1
    earliest_start: Step = 0
    latest_end: Step | None = None
    min_gap_steps: Step = 0
    pmf: list[NonNegative] | None = None
    preference_weight: NonNegative = 0.0

    @model_validator(mode="after")
    def _cycle(self) -> "DiscretePhaseDevice":
        if not self.phases_kw:
            raise ValueError("phases_kw: needs at least one phase")
        return self


class CycleKind:
    key = KEY
    spec = DiscretePhaseDevice

    def define(self, m, d: DiscretePhaseDevice) -> None:
        length = len(d.phases_kw)
        if d.runs == 0:
            m.vars[d.name] = {}
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
        m.vars[d.name] = s

    def extract(self, m, d: DiscretePhaseDevice, result: DayResult) -> None:
        starts = sorted(k for k, s in m.vars[d.name].items() if (s.varValue or 0) > 0.5)
        result.devices[d.name] = self.schedule(d, starts, m.n)

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


KIND = CycleKind()
