"""Prior usage PMFs over the 24 local hours, per device and day type.

A PMF is a length-24 float array over local wall-clock hours 0..23 that sums
to 1. Day types are ``weekday`` and ``weekend``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol, runtime_checkable

import numpy as np

from ems.data.calendar import DAY_TYPES, HOURS, day_type, parse_day
from ems.data.store import Store
from ems.learning.runs import RunSettings
from ems.learning.usage import load_usage, start_histogram, usage_histogram

log = logging.getLogger(__name__)

__all__ = ["DAY_TYPES", "HOURS", "DayTypePmfs", "HouseholdPrior", "LearnedPrior", "PmfSource", "UniformPrior",
           "informative"]


@runtime_checkable
class PmfSource(Protocol):
    """Anything that gives a device's usage PMF for a local day: 24 values over local hours 0..23, summing to 1.

    Every prior, learner and packaged PMF table implements this one method.
    """

    def pmf(self, device: str, day: date) -> np.ndarray: ...


class DayTypePmfs:
    """A PMF source whose PMFs depend on the day only through its day type (weekday/weekend)."""

    def pmf(self, device: str, day: date) -> np.ndarray:
        return self.pmf_of(device, day_type(day))

    def pmf_of(self, device: str, day_type: str) -> np.ndarray:
        """The PMF of ``device`` on days of ``day_type``."""
        raise NotImplementedError


@dataclass
class UniformPrior(DayTypePmfs):
    """Every hour equally likely (1/24)."""

    def pmf_of(self, device: str, day_type: str) -> np.ndarray:
        _check_day_type(day_type)
        return np.full(HOURS, 1.0 / HOURS)


@dataclass
class HouseholdPrior(DayTypePmfs):
    """The seed's realistic priors: usage windows per device in local hours.

    ``windows[device]`` is a list of inclusive ``[first_hour, last_hour]``
    ranges; a range with first > last wraps past midnight (22-6). Hours in a
    window get weight ``window_weight``, the others ``background_weight``;
    the result is normalised. A device without windows gets the uniform PMF.
    """

    windows: dict[str, list[list[int]]] = field(default_factory=dict)
    window_weight: float = 1.0
    background_weight: float = 0.05

    def __post_init__(self) -> None:
        if not (self.window_weight > 0 and self.background_weight >= 0):
            raise ValueError("prior.window_weight must be > 0 and prior.background_weight >= 0")
        for device, ranges in self.windows.items():
            for pair in ranges:
                if len(pair) != 2 or not all(0 <= h < HOURS for h in pair):
                    raise ValueError(f"prior.windows.{device}: {pair!r} is not a [first_hour, last_hour] pair in 0..23")

    def pmf_of(self, device: str, day_type: str) -> np.ndarray:
        _check_day_type(day_type)
        ranges = self.windows.get(device)
        if not ranges:
            return np.full(HOURS, 1.0 / HOURS)
        weights = np.full(HOURS, float(self.background_weight))
        for first, last in ranges:
            hours = np.arange(first, last + 1) if first <= last else np.r_[first:HOURS, 0 : last + 1]
            weights[hours] = self.window_weight
        return weights / weights.sum()


def informative(pmf: np.ndarray, theta: float) -> np.ndarray | None:
    """``pmf``, or None when no hour reaches ``theta``: such a PMF (e.g. the uniform
    1/24 < 0.05) says nothing about when a device runs, so it must exclude no hour."""
    pmf = np.asarray(pmf, dtype=float)
    return pmf if pmf.max() >= theta else None


def _check_day_type(day_type: str) -> None:
    if day_type not in DAY_TYPES:
        raise ValueError(f"day type {day_type!r} is not one of {', '.join(DAY_TYPES)}")


@dataclass
class LearnedPrior(DayTypePmfs):
    """What the building's own meters say about the ``days`` local days before ``before`` (the
    experiment's first day), per day type, ``smoothing`` pseudo-counts per hour: the start-hour
    histogram of a discrete-phase device (what the plan schedules is a start) and the usage-hour
    histogram of an energy-window device (what it schedules is energy per hour). Without
    ``before`` (a period from the building's first day) nothing precedes the period: every PMF is
    uniform, which excludes no hour."""

    db: str
    building: object
    before: object
    days: int = 60
    smoothing: float = 1.0
    timezone: str = "Europe/Berlin"
    runs: object = None

    def __post_init__(self) -> None:
        self._usage = None
        if self.before is None:
            log.info("prior=learned: period.start is null, so no day precedes the period; the PMFs are uniform")
            return
        first_day = parse_day(self.before, "period.start")
        with Store(self.db, self.timezone) as store:
            self._usage = load_usage(store, self.building, first_day - timedelta(days=self.days),
                                     first_day - timedelta(days=1), self.runs or RunSettings())
        self._windows = set(self.building.devices_of("partial_usage"))

    def pmf_of(self, device: str, day_type: str) -> np.ndarray:
        _check_day_type(day_type)
        if self._usage is None:
            return np.full(HOURS, 1.0 / HOURS)
        if device in self._windows:
            return usage_histogram(self._usage.used, device, day_type, self.smoothing)
        return start_histogram(self._usage.events, device, day_type, self.smoothing)
