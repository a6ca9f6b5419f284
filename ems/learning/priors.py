"""Prior usage PMFs over the 24 local hours, per device and day type.

A PMF is a length-24 float array over local wall-clock hours 0..23 that sums
to 1. Day types are ``weekday`` and ``weekend``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

HOURS = 24
DAY_TYPES = ("weekday", "weekend")


@dataclass
class UniformPrior:
    """Every hour equally likely (1/24)."""

    def pmf(self, device: str, day_type: str) -> np.ndarray:
        _check_day_type(day_type)
        return np.full(HOURS, 1.0 / HOURS)


@dataclass
class HouseholdPrior:
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

    def pmf(self, device: str, day_type: str) -> np.ndarray:
        _check_day_type(day_type)
        ranges = self.windows.get(device)
        if not ranges:
            return np.full(HOURS, 1.0 / HOURS)
        weights = np.full(HOURS, float(self.background_weight))
        for first, last in ranges:
            hours = np.arange(first, last + 1) if first <= last else np.r_[first:HOURS, 0 : last + 1]
            weights[hours] = self.window_weight
        return weights / weights.sum()


def _check_day_type(day_type: str) -> None:
    if day_type not in DAY_TYPES:
        raise ValueError(f"day type {day_type!r} is not one of {', '.join(DAY_TYPES)}")
