"""EVAgent: an electric vehicle charged at home."""

from __future__ import annotations

from dataclasses import dataclass

from ems.agents.checks import require_efficiency, require_non_negative
from ems.optim.request import EVSpec


@dataclass
class EVAgent:
    """EV parameters: battery kWh, charger kW (grid side), charge efficiency,
    and the daily plug-in window in local wall-clock hours: plugged in from
    ``arrival_hour`` and charged to ``soc_target_kwh`` by ``departure_hour``
    the next morning (the seed's rule: full by 07:00). V2G is off unless
    ``v2g`` is true.
    """

    capacity_kwh: float
    max_charge_kw: float
    charge_efficiency: float
    soc_target_kwh: float
    arrival_hour: int
    departure_hour: int
    v2g: bool = False

    def __post_init__(self) -> None:
        require_non_negative(self, "capacity_kwh", "max_charge_kw", "soc_target_kwh")
        require_efficiency(self, "charge_efficiency")
        if self.soc_target_kwh > self.capacity_kwh:
            raise ValueError(f"ev.soc_target_kwh={self.soc_target_kwh} exceeds ev.capacity_kwh={self.capacity_kwh}")
        for name in ("arrival_hour", "departure_hour"):
            if not 0 <= getattr(self, name) <= 23:
                raise ValueError(f"ev.{name}={getattr(self, name)!r} must be a local hour 0..23")

    def spec(self, soc_init_kwh: float, arrival_step: int, deadline_step: int) -> EVSpec:
        """The day-request EV part for a horizon in which it is plugged in [arrival_step, deadline_step)."""
        return EVSpec(
            capacity_kwh=self.capacity_kwh, max_charge_kw=self.max_charge_kw, soc_init_kwh=soc_init_kwh,
            soc_target_kwh=self.soc_target_kwh, arrival_step=arrival_step, deadline_step=deadline_step,
            charge_efficiency=self.charge_efficiency, v2g=self.v2g,
            max_discharge_kw=self.max_charge_kw if self.v2g else 0.0, discharge_efficiency=self.charge_efficiency,
        )
