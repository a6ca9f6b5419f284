"""``python -m ems learning-benchmark``: every learner scored on held-out days, for every device of every building.

Per device, its learnable days in time order: the first ``train_days`` local
days are learned only (and give the static histogram); on every later day
each learner's PMF for the day's type is scored on the day's target (start
hours of a discrete-phase device's runs, used hours of an energy-window device
or the EV) **before** the learner sees that day, then every learner learns it.
Scores per event (an hour of the target): NLL = -ln max(P[h], 1e-6) in nats,
top-3 credit (ties shared), and the expected calibration error (ECE, 10 bins)
of the 24 hourly probabilities against whether the event fell in each hour.
The uniform PMF (NLL ln 24 = 3.178) and the static histogram of the training
days stand beside the learners.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from ems.data.calendar import HOURS, day_type
from ems.learning.evaluate import FLOOR, top_k_credit
from ems.learning.learners import LEARNERS
from ems.learning.usage import Usage, start_histogram, usage_histogram

REFERENCES = ("uniform", "static")
ECE_BINS = 10


@dataclass
class Score:
    """Summed scores of one PMF source on one device's held-out days."""

    nll: float = 0.0
    top3: float = 0.0
    events: int = 0
    predicted: list = field(default_factory=list)
    observed: list = field(default_factory=list)

    def add(self, pmf: np.ndarray, target: np.ndarray) -> None:
        for h in np.flatnonzero(target):
            count = float(target[h])
            self.nll += count * -math.log(max(float(pmf[h]), FLOOR))
            self.top3 += count * top_k_credit(pmf, int(h), 3)
            self.events += int(round(count))
        self.predicted.append(np.asarray(pmf, float))
        self.observed.append(np.asarray(target, float) / max(float(np.sum(target)), 1.0))

    def ece(self) -> float:
        """Expected calibration error of the hourly probabilities (10 equal-width bins)."""
        if not self.predicted:
            return float("nan")
        p, y = np.concatenate(self.predicted), np.concatenate(self.observed)
        bins = np.minimum((p * ECE_BINS).astype(int), ECE_BINS - 1)
        total = 0.0
        for b in range(ECE_BINS):
            mask = bins == b
            if mask.any():
                total += mask.sum() / len(p) * abs(p[mask].mean() - y[mask].mean())
        return float(total)


@dataclass
class Row:
    """One device's held-out scores: ``scores[source]`` for the learners and the references."""

    building: str
    device: str
    target: str
    train_days: int
    held_out_days: int
    scores: dict[str, Score]

    @property
    def events(self) -> int:
        return self.scores["uniform"].events

    def nll(self, source: str) -> float:
        s = self.scores[source]
        return s.nll / s.events if s.events else float("nan")

    def best(self) -> str:
        return min(LEARNERS, key=lambda name: self.nll(name))


def targets(usage: Usage, device: str, starts: bool) -> dict[date, np.ndarray]:
    """Local day -> the device's target counts over the 24 local hours (days with no usage: zeros)."""
    if starts:
        frame = usage.events.filter(pl.col("device") == device).select("local_date", hour="start_hour")
    else:
        frame = usage.used.filter(pl.col("device") == device).select("local_date", hour="local_hour")
    out: dict[date, np.ndarray] = defaultdict(lambda: np.zeros(HOURS))
    for day, hour in frame.iter_rows():
        out[day][int(hour)] += 1.0
    return out


def benchmark_device(usage: Usage, building_id: str, device: str, starts: bool, train_days: int,
                     learner_options: dict | None = None) -> Row | None:
    """Score every learner on ``device``'s held-out days (see the module docstring); None without any."""
    days = sorted(usage.learnable_days.get(device, ()))
    if not days:
        return None
    cut = days[0] + timedelta(days=train_days)
    training, held_out = [d for d in days if d < cut], [d for d in days if d >= cut]
    if not held_out:
        return None
    by_day = targets(usage, device, starts)
    learners = {name: cls(**(learner_options or {}).get(name, {})) for name, cls in LEARNERS.items()}
    before = (usage.events if starts else usage.used).filter(pl.col("local_date") < cut)
    static = {t: (start_histogram(before, device, t, 1.0) if starts else usage_histogram(before, device, t, 1.0))
              for t in ("weekday", "weekend")}
    uniform = np.full(HOURS, 1.0 / HOURS)
    scores = {name: Score() for name in (*REFERENCES, *LEARNERS)}
    for day in training:
        for learner in learners.values():
            learner.observe(device, day, day_type(day), by_day[day])
    for day in held_out:
        kind, target = day_type(day), by_day[day]
        if target.sum() > 0:
            scores["uniform"].add(uniform, target)
            scores["static"].add(static[kind], target)
            for name, learner in learners.items():
                scores[name].add(learner.pmf(device, kind), target)
        for learner in learners.values():
            learner.observe(device, day, kind, target)
    return Row(building_id, device, "start hours" if starts else "used hours", len(training), len(held_out), scores)


def table(rows: list[Row], min_events: int) -> str:
    """One line per (building, device): held-out NLL of each source, the best learner's top-3 and ECE,
    and whether the best learner is at or below the static histogram."""
    names = (*REFERENCES, *LEARNERS)
    head = f"{'building':<14}{'device':<17}{'target':<13}{'events':>7}" + "".join(f"{n:>11}" for n in names)
    lines = ["held-out NLL (nats/event; lower is better) per PMF source, then the best learner's top-3 and ECE",
             head + f"{'best':>12}{'top-3':>7}{'ECE':>7}  vs static"]
    for r in rows:
        best = r.best()
        verdict = "n/a (< %d events)" % min_events if r.events < min_events else (
            "at or below" if r.nll(best) <= r.nll("static") + 1e-12 else "ABOVE")
        lines.append(f"{r.building:<14}{r.device:<17}{r.target:<13}{r.events:>7}" +
                     "".join(f"{r.nll(n):>11.3f}" for n in names) +
                     f"{best:>12}{r.scores[best].top3 / max(r.events, 1):>7.3f}{r.scores[best].ece():>7.4f}  {verdict}")
    return "\n".join(lines)
