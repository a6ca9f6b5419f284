"""Online usage-PMF learners side by side: each keeps one PMF per device and day type and learns a day at a time.

Every learner sees, after a local day, that day's **target** per device: the
start hours of a discrete-phase device's runs (what the MILP schedules is a
start) or the used hours of an energy-window device (what it schedules is
energy per hour), as counts over the 24 local hours. ``pmf(device, day_type)``
is what it predicts before seeing the next day of that type.

* ``seed``: the seed study's rule (:mod:`ems.learning.pmf`: LR_TAU, LR_MAX, JS
  boost, delta cap) on the day's 0/1 indicator of the target hours;
* ``forgetting``: an exponentially forgetting histogram, counts <- decay x counts
  + target, PMF = (counts + smoothing) normalised;
* ``dirichlet``: a Dirichlet-multinomial, prior concentration ``strength`` x the
  prior PMF, whose evidence decays by ``decay`` per observed day (towards the
  prior); the PMF is the posterior mean, :meth:`DirichletLearner.std` its
  posterior standard deviation per hour;
* ``kernel``: the forgetting histogram smoothed over neighbouring hours by a
  circular (wrapping at midnight) Gaussian kernel of ``bandwidth_h`` hours.

All start from the prior's PMF (uniform unless given).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from ems.data.calendar import HOURS
from ems.learning.pmf import LearningSettings, ProbabilityModelAgent
from ems.learning.priors import DayTypePmfs, UniformPrior


def _day_types(prior) -> None:
    if not isinstance(prior, DayTypePmfs):
        raise ValueError(f"learner.rule.prior: the rule starts from one PMF per day type (prior=uniform, household "
                         f"or learned), not {type(prior).__name__}")


def _check(name: str, value: float, low: float, high: float, key: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"learner.{key}={value!r}: must be in [{low}, {high}] ({name})")


@dataclass
class ForgettingLearner:
    """Exponentially forgetting histogram (see the module docstring)."""

    decay: float = 0.97
    smoothing: float = 0.5
    prior: DayTypePmfs = field(default_factory=UniformPrior)
    name: str = "forgetting"
    _counts: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        _day_types(self.prior)
        _check(self.name, self.decay, 0.0, 1.0, "decay")
        _check(self.name, self.smoothing, 1e-9, 1e6, "smoothing")

    def _state(self, device: str, day_type: str) -> np.ndarray:
        key = (device, day_type)
        if key not in self._counts:
            self._counts[key] = np.zeros(HOURS)
        return self._counts[key]

    def pmf(self, device: str, day_type: str) -> np.ndarray:
        counts = self._state(device, day_type)
        prior = np.asarray(self.prior.pmf_of(device, day_type), float)
        weights = counts + self.smoothing * HOURS * prior
        return weights / weights.sum()

    def observe(self, device: str, day: date, day_type: str, target: np.ndarray) -> None:
        key = (device, day_type)
        self._counts[key] = self.decay * self._state(device, day_type) + np.asarray(target, float)


@dataclass
class KernelLearner(ForgettingLearner):
    """The forgetting histogram smoothed by a circular Gaussian kernel over the hours."""

    bandwidth_h: float = 1.0
    name: str = "kernel"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.name, self.bandwidth_h, 0.05, 12.0, "bandwidth_h")
        offsets = np.minimum(np.arange(HOURS), HOURS - np.arange(HOURS))  # circular distance from hour 0
        kernel = np.exp(-0.5 * (offsets / self.bandwidth_h) ** 2)
        self._kernel = kernel / kernel.sum()

    def pmf(self, device: str, day_type: str) -> np.ndarray:
        counts = self._state(device, day_type)
        smoothed = np.real(np.fft.ifft(np.fft.fft(counts) * np.fft.fft(self._kernel)))  # circular convolution
        prior = np.asarray(self.prior.pmf_of(device, day_type), float)
        weights = np.maximum(smoothed, 0.0) + self.smoothing * HOURS * prior
        return weights / weights.sum()


@dataclass
class DirichletLearner:
    """Dirichlet-multinomial with decaying evidence (see the module docstring)."""

    strength: float = 12.0
    decay: float = 0.98
    prior: DayTypePmfs = field(default_factory=UniformPrior)
    name: str = "dirichlet"
    _evidence: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        _day_types(self.prior)
        _check(self.name, self.strength, 1e-6, 1e6, "strength")
        _check(self.name, self.decay, 0.0, 1.0, "decay")

    def _alpha(self, device: str, day_type: str) -> np.ndarray:
        prior = np.asarray(self.prior.pmf_of(device, day_type), float)
        return self.strength * prior + self._evidence.get((device, day_type), np.zeros(HOURS))

    def pmf(self, device: str, day_type: str) -> np.ndarray:
        alpha = self._alpha(device, day_type)
        return alpha / alpha.sum()

    def std(self, device: str, day_type: str) -> np.ndarray:
        """Posterior standard deviation of each hour's probability."""
        alpha = self._alpha(device, day_type)
        total = alpha.sum()
        mean = alpha / total
        return np.sqrt(mean * (1 - mean) / (total + 1))

    def observe(self, device: str, day: date, day_type: str, target: np.ndarray) -> None:
        key = (device, day_type)
        self._evidence[key] = self.decay * self._evidence.get(key, np.zeros(HOURS)) + np.asarray(target, float)


@dataclass
class SeedLearner:
    """The seed's update rule (:class:`ems.learning.pmf.ProbabilityModelAgent`) on the target hours' 0/1 indicator."""

    settings: LearningSettings = field(default_factory=LearningSettings)
    prior: DayTypePmfs = field(default_factory=UniformPrior)
    name: str = "seed"

    def __post_init__(self) -> None:
        self._agent = ProbabilityModelAgent(self.prior, self.settings, self.name)

    def pmf(self, device: str, day_type: str) -> np.ndarray:
        return self._agent.pmf_of(device, day_type)

    def observe(self, device: str, day: date, day_type: str, target: np.ndarray) -> None:
        self._agent.observe(device, day, (np.asarray(target) > 0).astype(float))


#: The learners of ``python -m ems learning-benchmark`` (in the replay: ``learner=adaptive`` is the seed rule,
#: ``learner=forgetting|dirichlet|kernel`` the others, through ems.learning.daily.RuleLearner).
LEARNERS = {"seed": SeedLearner, "forgetting": ForgettingLearner, "dirichlet": DirichletLearner,
            "kernel": KernelLearner}
