"""Adaptive usage PMFs: the seed's update rule, diagnostics and a persistent archive.

A PMF is 24 floats over local wall-clock hours summing to 1, one per device
and day type. After each observed day with usage indicator T (T_h = 1 when
the device ran in local hour h):

    lr      = clip(lr_min, lr_max, boost / (n + lr_tau))
    boost   = 1 + min(JS_recent * boost_scale, boost_max)   if JS_recent > js_threshold else 1
    delta_h = clip(lr * (T_h - P_h), -delta_cap, delta_cap)
    P'      = normalise(max(P + delta, 0))

n counts the observations of that device and day type so far; JS_recent is
the JS divergence of the previous update (a recent change in habits learns
faster). A day without usage counts as an observation (n grows, so later
learning rates shrink) but leaves the PMF's shape unchanged: T = 0 scales
every hour alike and the renormalisation undoes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import numpy as np

from ems.data.calendar import HOURS, day_type
from ems.learning.priors import DayTypePmfs


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (natural log, 0..ln 2) of two PMFs."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log(a[mask] / m[mask])))

    return max(0.0, 0.5 * kl(p) + 0.5 * kl(q))  # rounding can give -0.0


def entropy(p: np.ndarray) -> float:
    """Shannon entropy (nats; ln 24 = 3.178 for the uniform PMF)."""
    p = np.asarray(p, float)
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def top_hours(p: np.ndarray, n: int) -> list[int]:
    """The n most likely hours, most likely first (ties: earlier hour first)."""
    return [int(h) for h in np.argsort(-np.asarray(p), kind="stable")[:n]]


@dataclass
class LearningSettings:
    """The update rule's constants (see the module docstring and ``conf/learner``)."""

    lr_tau: float = 20.0
    lr_min: float = 0.002
    lr_max: float = 0.10
    js_threshold: float = 0.01
    boost_scale: float = 50.0
    boost_max: float = 0.5
    delta_cap: float = 0.05
    top_n: int = 3

    def __post_init__(self) -> None:
        if not 0 <= self.lr_min <= self.lr_max:
            raise ValueError(f"learner.lr_min={self.lr_min} / lr_max={self.lr_max}: need 0 <= lr_min <= lr_max")
        if self.lr_tau <= 0 or self.delta_cap <= 0:
            raise ValueError("learner.lr_tau and learner.delta_cap must be positive")


def learning_rate(n: int, js_recent: float, s: LearningSettings) -> float:
    boost = 1.0 + min(js_recent * s.boost_scale, s.boost_max) if js_recent > s.js_threshold else 1.0
    return float(np.clip(boost / (n + s.lr_tau), s.lr_min, s.lr_max))


def update_pmf(p: np.ndarray, used: np.ndarray, lr: float, cap: float) -> tuple[np.ndarray, np.ndarray]:
    """(new PMF, applied delta) for usage indicator ``used`` (24 values of 0/1)."""
    delta = np.clip(lr * (np.asarray(used, float) - p), -cap, cap)
    new = np.maximum(p + delta, 0.0)
    total = new.sum()
    new = new / total if total > 0 else np.full(HOURS, 1.0 / HOURS)
    return new, new - p


@dataclass
class Update:
    """One archived update of one device and day type."""

    device: str
    day_type: str
    day: date
    n: int
    lr: float
    before: list[float]
    after: list[float]
    delta: list[float]
    js_step: float
    js_prior: float
    entropy: float
    top_shift: int
    used_hours: int
    at_utc: datetime = field(default_factory=lambda: datetime.now(timezone.utc).replace(tzinfo=None))


class ProbabilityModelAgent(DayTypePmfs):
    """Holds one PMF per device and day type, starting from ``prior``, and learns from observed days.

    It is itself a PMF source (``pmf(device, day)``), so the phases mode can use it directly.
    ``prior`` must be a day-type source (uniform, household, learned).
    """

    def __init__(self, prior: DayTypePmfs, settings: LearningSettings | None = None, name: str = "adaptive"):
        if not isinstance(prior, DayTypePmfs):
            raise ValueError(f"learner: the prior must give one PMF per day type (prior=uniform, household or "
                             f"learned), not {type(prior).__name__}")
        self.prior = prior
        self.settings = settings or LearningSettings()
        self.name = name
        self.pmfs: dict[tuple[str, str], np.ndarray] = {}
        self.counts: dict[tuple[str, str], int] = {}
        self.js_recent: dict[tuple[str, str], float] = {}
        self.history: list[Update] = []
        self.learned: set[tuple[str, date]] = set()

    def pmf_of(self, device: str, day_type: str) -> np.ndarray:
        """The current PMF (a copy), the prior's until the first update."""
        key = (device, day_type)
        if key not in self.pmfs:
            self.pmfs[key] = np.asarray(self.prior.pmf_of(device, day_type), float).copy()
        return self.pmfs[key].copy()

    def observe(self, device: str, day: date, used: np.ndarray) -> Update | None:
        """Learn one local day's usage indicator (24 local hours); a (device, day) seen before is ignored."""
        if (device, day) in self.learned:
            return None
        kind = day_type(day)
        key, s = (device, kind), self.settings
        before = self.pmf_of(device, kind)
        n = self.counts.get(key, 0)
        lr = learning_rate(n, self.js_recent.get(key, 0.0), s)
        after, delta = update_pmf(before, used, lr, s.delta_cap)
        step = js_divergence(before, after)
        prior = np.asarray(self.prior.pmf_of(device, kind), float)
        top_before, top_after = top_hours(before, s.top_n), top_hours(after, s.top_n)
        record = Update(device, kind, day, n + 1, lr, before.tolist(), after.tolist(), delta.tolist(), step,
                        js_divergence(prior, after), entropy(after), len(set(top_after) - set(top_before)),
                        int(np.sum(used)))
        self.pmfs[key], self.counts[key], self.js_recent[key] = after, n + 1, step
        self.history.append(record)
        self.learned.add((device, day))
        return record

    def snapshot(self) -> tuple:
        """Everything ``observe`` changes, to :meth:`restore` when an update cannot be persisted."""
        return dict(self.pmfs), dict(self.counts), dict(self.js_recent), len(self.history), set(self.learned)

    def restore(self, snapshot: tuple) -> None:
        pmfs, counts, js_recent, n_history, learned = snapshot
        self.pmfs, self.counts, self.js_recent, self.learned = dict(pmfs), dict(counts), dict(js_recent), set(learned)
        del self.history[n_history:]

    def summary(self) -> list[str]:
        """The seed's convergence lines, e.g. ``heat_pump: 242 updates, final JS(prior)=0.0721, final JS(step)=0.0005``."""
        lines = []
        for device in sorted({u.device for u in self.history}):
            mine = [u for u in self.history if u.device == device]
            last = mine[-1]
            lines.append(f"{device}: {len(mine)} updates, final JS(prior)={last.js_prior:.4f}, "
                         f"final JS(step)={last.js_step:.4f}")
        return lines
