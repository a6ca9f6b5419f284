"""Held-out evaluation: how well the PMF held the evening before predicts the day's start hours.

For each usage event the start hour h is scored under a PMF P:
NLL = -ln max(P[h], 1e-6) (nats) and a top-3 hit when h is among P's three
most likely hours (ties at the third place share the remaining credit, so
the uniform PMF scores the fair 3/24, not an artefact of tie-breaking). Three PMFs are scored side by side: the learner's
(before it sees the day), the uniform 1/24 (NLL ln 24 = 3.178) and a static
histogram (the smoothed start-hour histogram of the training window).

``learning_score`` = mean over devices of (uniform NLL - learner NLL), in
nats per event: > 0 means the learner predicts start hours better than
guessing; the Optuna sweep maximises it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np


FLOOR = 1e-6
MODELS = ("learned", "uniform", "static")


def top_k_credit(pmf: np.ndarray, hour: int, k: int) -> float:
    """1 if ``hour`` is surely among the k most likely hours, 0 if surely not,
    else its share of the places left among hours tied with the k-th value."""
    p = np.asarray(pmf, float)
    kth = np.sort(p)[::-1][k - 1]
    if p[hour] > kth:
        return 1.0
    if p[hour] < kth:
        return 0.0
    return (k - int(np.sum(p > kth))) / int(np.sum(p == kth))


@dataclass
class HeldOut:
    """Per device and model: summed NLL, top-3 hits and the number of scored events."""

    nll: dict = field(default_factory=lambda: defaultdict(float))
    hits: dict = field(default_factory=lambda: defaultdict(float))
    events: dict = field(default_factory=lambda: defaultdict(int))

    def score(self, device: str, start_hours: list[int], pmfs: dict[str, np.ndarray]) -> None:
        for model, pmf in pmfs.items():
            for h in start_hours:
                self.nll[device, model] += -math.log(max(float(pmf[h]), FLOOR))
                self.hits[device, model] += top_k_credit(pmf, h, 3)
                self.events[device, model] += 1

    def table(self) -> dict[str, dict[str, float]]:
        """device -> {nll_<model>, top3_<model>, events}."""
        out: dict[str, dict[str, float]] = {}
        for (device, model), n in self.events.items():
            row = out.setdefault(device, {"events": float(n)})
            row[f"nll_{model}"] = self.nll[device, model] / n
            row[f"top3_{model}"] = self.hits[device, model] / n
        return out

    def learning_score(self) -> float:
        rows = [r for r in self.table().values() if "nll_learned" in r]
        if not rows:
            return float("nan")
        return float(np.mean([r["nll_uniform"] - r["nll_learned"] for r in rows]))
