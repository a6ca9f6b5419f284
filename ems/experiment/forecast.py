"""Forecasts of the day's base load and PV for planning (settlement always uses the actual values)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np


@dataclass
class PerfectForecast:
    """The day's actual base load and PV (kW per step): what planning could at best know."""

    name: str = "perfect"

    def predict(self, local_hours: np.ndarray, actual_base: np.ndarray, actual_pv: np.ndarray):
        return actual_base.copy(), actual_pv.copy()

    def observe(self, local_hours: np.ndarray, base: np.ndarray, pv: np.ndarray) -> None:
        """Perfect foresight keeps no history."""


@dataclass
class NaiveForecast:
    """Mean of the same local hour over the last ``days`` observed days.

    Before any day was observed there is nothing to average: ``predict``
    returns None and the runner skips the day (counted, not filled).
    """

    days: int = 7
    name: str = "naive"
    _history: deque = field(default_factory=deque, repr=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.days, int) and self.days >= 1):
            raise ValueError(f"forecast.days={self.days!r} must be a whole number >= 1")
        self._history = deque(maxlen=self.days)

    def predict(self, local_hours: np.ndarray, actual_base: np.ndarray, actual_pv: np.ndarray):
        if not self._history:
            return None
        base = np.mean([self._by_hour(day, 0, local_hours) for day in self._history], axis=0)
        pv = np.mean([self._by_hour(day, 1, local_hours) for day in self._history], axis=0)
        return base, pv

    def observe(self, local_hours: np.ndarray, base: np.ndarray, pv: np.ndarray) -> None:
        by_hour = {}
        for h, b, p in zip(local_hours.tolist(), base.tolist(), pv.tolist()):
            by_hour.setdefault(h, []).append((b, p))  # the repeated autumn hour keeps both values
        self._history.append({h: np.mean(v, axis=0) for h, v in by_hour.items()})

    @staticmethod
    def _by_hour(day: dict, which: int, local_hours: np.ndarray) -> np.ndarray:
        """That day's value at each wall-clock hour (the spring hour that did not exist: its neighbour)."""
        return np.array([day[h][which] if h in day else day[min(day, key=lambda k: abs(k - h))][which]
                         for h in local_hours.tolist()])
