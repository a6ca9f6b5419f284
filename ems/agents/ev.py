"""EVAgent: an electric vehicle charged at home in plug-in sessions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ems.checks import require_efficiency, require_fraction, require_non_negative
from ems.optim.kinds.storage import EVSession, EVSpec

#: The two plug-in windows of a local day: before departure, and from arrival to midnight.
SESSIONS = ("morning", "evening")


@dataclass
class EVAgent:
    """EV parameters: battery kWh, charger kW (grid side), charge efficiency, and
    the daily plug-in windows in local wall-clock hours: plugged in from
    ``arrival_hour`` and charged to ``soc_target_frac`` of the capacity by
    ``departure_hour`` the next morning (the seed's rule: full by 07:00). In a
    one-day horizon that is two sessions, [00:00, departure) and [arrival,
    24:00). V2G is off unless ``v2g`` is true.
    """

    capacity_kwh: float
    max_charge_kw: float
    charge_efficiency: float
    soc_target_frac: float
    arrival_hour: int
    departure_hour: int
    v2g: bool = False

    def __post_init__(self) -> None:
        require_non_negative(self, "capacity_kwh", "max_charge_kw")
        require_efficiency(self, "charge_efficiency")
        require_fraction(self, "soc_target_frac")
        for name in ("arrival_hour", "departure_hour"):
            if not 0 <= getattr(self, name) <= 23:
                raise ValueError(f"ev.{name}={getattr(self, name)!r} must be a local hour 0..23")

    @property
    def soc_target_kwh(self) -> float:
        return self.soc_target_frac * self.capacity_kwh

    def windows(self, local_hours: np.ndarray) -> dict[str, np.ndarray]:
        """Plugged-in mask per session window over the day's steps (by local hour)."""
        return {"morning": local_hours < self.departure_hour, "evening": local_hours >= self.arrival_hour}

    def spec(self, local_hours: np.ndarray, charge_kwh: dict[str, float], peak_kw: float = 0.0) -> EVSpec | None:
        """The day's EV part: one session per window whose grid-side charge ``charge_kwh[window]`` is positive.

        Each session arrives at the target minus what it must charge and
        leaves at the target. ``peak_kw`` (a metered hour) raises the charger
        limit where the meter saw more than ``max_charge_kw``. None: no session.
        """
        sessions = []
        for name, mask in self.windows(local_hours).items():
            steps = np.flatnonzero(mask)
            energy = float(charge_kwh.get(name, 0.0))
            if not len(steps) or energy <= 0:
                continue
            gain = energy * self.charge_efficiency
            if gain > self.soc_target_kwh + 1e-9:
                raise ValueError(f"ev: {energy:g} kWh charged in the {name} window exceed what the car can take "
                                 f"({self.soc_target_kwh:g} kWh at ev.soc_target_frac={self.soc_target_frac}); "
                                 f"raise ev.capacity_kwh")
            sessions.append(EVSession(soc_init_kwh=self.soc_target_kwh - gain, soc_target_kwh=self.soc_target_kwh,
                                      arrival_step=int(steps[0]), deadline_step=int(steps[-1]) + 1))
        if not sessions:
            return None
        charger = max(self.max_charge_kw, peak_kw)
        return EVSpec(capacity_kwh=self.capacity_kwh, max_charge_kw=charger, sessions=sessions,
                      charge_efficiency=self.charge_efficiency, v2g=self.v2g,
                      max_discharge_kw=charger if self.v2g else 0.0, discharge_efficiency=self.charge_efficiency)
