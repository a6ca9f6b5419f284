"""Adaptation experiments (seed report section 4.3.10): how many days each learner needs after a change.

Each experiment takes a device's real targets (start hours of a discrete-phase
device) around a change day C in its record and changes what happens from C on:

* ``vacation``: nobody home for ``vacation_days`` (7) days from C: those days have no
  usage (the learners observe empty days); real usage resumes after them
  (**synthetic**: the days were emptied);
* ``habit_shift``: every start from C on is moved by ``shift_h`` (3) hours, wrapping at
  midnight (**synthetic**: the household never did this);
* ``replacement``: from C on the device is replaced by one with a cycle ``replacement_factor``
  (2) times as long: the target is the used hours, each run lasting that much longer
  (**synthetic**);
* ``season``: no change is made: C is the first day of a new season (1 October) and
  the real data after it is what the learners face.

Days to adapt: the days k from the change's end until the learner's held-out NLL
(nats per event, each day scored before the learner sees it) over the last
``window_days`` (14) days up to end + k (none before the end; at least
``min_events`` (3) events) is within ``tolerance`` (5 %) of its own level over the
``level_days`` (28) days before C; ``never`` when that does not happen within
``horizon_days`` (120). Learners learn everything before C from the device's
first learnable day; C is the middle of the device's record (``season``: the 1
October nearest to it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from ems.data.calendar import HOURS, day_type
from ems.learning.evaluate import FLOOR
from ems.learning.learners import LEARNERS
from ems.learning.usage import Usage

EXPERIMENTS = ("vacation", "habit_shift", "replacement", "season")
SYNTHETIC = {"vacation", "habit_shift", "replacement"}


@dataclass
class AdaptationSettings:
    vacation_days: int = 7
    shift_h: int = 3
    replacement_factor: int = 2
    level_days: int = 28
    window_days: int = 14
    tolerance: float = 0.05
    horizon_days: int = 120
    min_events: int = 3


def _starts(usage: Usage, device: str) -> dict[date, np.ndarray]:
    out: dict[date, np.ndarray] = {}
    for day, hour in usage.events.filter(pl.col("device") == device).select("local_date", "start_hour").iter_rows():
        out.setdefault(day, np.zeros(HOURS))[int(hour)] += 1.0
    return out


def _used(usage: Usage, device: str, factor: int) -> dict[date, np.ndarray]:
    """Used hours of each run stretched ``factor`` times (from its start; cut at midnight)."""
    out: dict[date, np.ndarray] = {}
    rows = usage.events.filter(pl.col("device") == device).select("local_date", "start_hour", "hours").iter_rows()
    for day, start, hours in rows:
        target = out.setdefault(day, np.zeros(HOURS))
        target[int(start):min(HOURS, int(start) + int(hours) * factor)] = 1.0
    return out


def changed_targets(usage: Usage, device: str, experiment: str, change: date, s: AdaptationSettings
                    ) -> tuple[dict[date, np.ndarray], date]:
    """(day -> target counts after the experiment's change, the day the change ends)."""
    if experiment == "replacement":
        before, after = _used(usage, device, 1), _used(usage, device, s.replacement_factor)
        return {d: (after if d >= change else before)[d] for d in set(before) | set(after)
                if (after if d >= change else before).get(d) is not None}, change
    targets = _starts(usage, device)
    if experiment == "vacation":
        end = change + timedelta(days=s.vacation_days)
        return {d: (np.zeros(HOURS) if change <= d < end else t) for d, t in targets.items()}, end
    if experiment == "habit_shift":
        return {d: (np.roll(t, s.shift_h) if d >= change else t) for d, t in targets.items()}, change
    return targets, change  # season: the real data


def _nll(pmf: np.ndarray, target: np.ndarray) -> float:
    return float(sum(target[h] * -math.log(max(float(pmf[h]), FLOOR)) for h in np.flatnonzero(target)))


def days_to_adapt(usage: Usage, device: str, experiment: str, change: date, s: AdaptationSettings
                  ) -> dict[str, int | None]:
    """Learner -> days from the change's end until its NLL is back within tolerance (None: never)."""
    targets, end = changed_targets(usage, device, experiment, change, s)
    days = sorted(d for d in usage.learnable_days.get(device, ()) if d < change + timedelta(days=s.horizon_days + 60))
    learners = {name: cls() for name, cls in LEARNERS.items()}
    trace: dict[str, dict[date, tuple[float, float]]] = {name: {} for name in learners}
    for day in days:
        kind, target = day_type(day), targets.get(day, np.zeros(HOURS))
        for name, learner in learners.items():
            if target.sum() > 0:
                trace[name][day] = (_nll(learner.pmf(device, kind), target), float(target.sum()))
            learner.observe(device, day, kind, target)
    out: dict[str, int | None] = {}
    for name, scored in trace.items():
        level = _mean(scored, change - timedelta(days=s.level_days), change)
        out[name] = None
        if math.isnan(level):
            continue
        for k in range(s.horizon_days + 1):
            t = end + timedelta(days=k)
            first = max(end, t - timedelta(days=s.window_days - 1))
            recent, events = _mean(scored, first, t + timedelta(days=1)), _events(scored, first, t + timedelta(days=1))
            if events >= s.min_events and recent <= level * (1 + s.tolerance):
                out[name] = k
                break
    return out


def change_days(usage: Usage, device: str, s: AdaptationSettings) -> dict[str, date]:
    """Experiment -> its change day for ``device``: the middle of its learnable record (the 1 October
    nearest to it for ``season``), so there are ``level_days`` before and ``horizon_days`` after."""
    days = sorted(usage.learnable_days.get(device, ()))
    if len(days) < 2:
        return {}
    middle = days[len(days) // 2]
    octobers = [date(y, 10, 1) for y in range(days[0].year, days[-1].year + 1)
                if days[0] + timedelta(days=s.level_days) <= date(y, 10, 1) <= days[-1] - timedelta(days=s.horizon_days)]
    out = {e: middle for e in EXPERIMENTS if e != "season"}
    if octobers:
        out["season"] = min(octobers, key=lambda d: abs((d - middle).days))
    return out


def table(rows: list[tuple[str, str, str, dict[str, int | None]]]) -> str:
    """Per experiment: days to adapt per learner and device, then each learner's median over the devices."""
    names = list(LEARNERS)
    lines = []
    for experiment in EXPERIMENTS:
        mine = [r for r in rows if r[2] == experiment]
        label = experiment + (" (SYNTHETIC: the change was made to the real data, not observed)" if experiment in SYNTHETIC
                              else " (real data)")
        lines += ["", f"days to adapt: {label}", f"{'building':<14}{'device':<17}" + "".join(f"{n:>14}" for n in names)]
        for building, device, _, days in mine:
            lines.append(f"{building:<14}{device:<17}" + "".join(
                f"{('never' if days[n] is None else str(days[n])):>14}" for n in names))
        medians = []
        for n in names:
            values = [r[3][n] for r in mine]
            finite = sorted(v for v in values if v is not None)
            never = len(values) - len(finite)
            medians.append(f"{(np.median(finite) if finite else float('nan')):.0f}" + (f" ({never} never)" if never
                                                                                        else ""))
        lines.append(f"{'median':<31}" + "".join(f"{m:>14}" for m in medians))
    return "\n".join(lines[1:])


def _events(scored: dict[date, tuple[float, float]], first: date, end: date) -> float:
    return sum(e for d, (_, e) in scored.items() if first <= d < end)


def _mean(scored: dict[date, tuple[float, float]], first: date, end: date) -> float:
    """NLL per event over the scored days in [first, end)."""
    picked = [v for d, v in scored.items() if first <= d < end]
    events = sum(e for _, e in picked)
    return sum(n for n, _ in picked) / events if events else float("nan")
