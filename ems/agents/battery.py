"""BatteryAgent: a stationary home battery."""

from __future__ import annotations

from dataclasses import dataclass

from ems.agents.checks import require_efficiency, require_non_negative
from ems.optim.request import BatterySpec


@dataclass
class BatteryAgent:
    """Home battery parameters.

    Energies in kWh, powers in kW measured on the grid (AC) side, efficiencies
    as fractions in (0, 1], degradation cost in EUR per kWh of throughput
    (charge plus discharge, grid side).
    """

    capacity_kwh: float
    max_charge_kw: float
    max_discharge_kw: float
    soc_min_kwh: float
    soc_max_kwh: float
    soc_init_kwh: float
    soc_final_min_kwh: float
    charge_efficiency: float
    discharge_efficiency: float
    degradation_eur_kwh: float

    def __post_init__(self) -> None:
        require_non_negative(self, "capacity_kwh", "max_charge_kw", "max_discharge_kw", "degradation_eur_kwh",
                      "soc_min_kwh", "soc_init_kwh", "soc_final_min_kwh")
        require_efficiency(self, "charge_efficiency", "discharge_efficiency")
        if not self.soc_min_kwh <= self.soc_max_kwh <= self.capacity_kwh:
            raise ValueError(
                f"battery: need soc_min_kwh <= soc_max_kwh <= capacity_kwh, got "
                f"{self.soc_min_kwh} / {self.soc_max_kwh} / {self.capacity_kwh}"
            )
        for name in ("soc_init_kwh", "soc_final_min_kwh"):
            if not self.soc_min_kwh <= getattr(self, name) <= self.soc_max_kwh:
                raise ValueError(f"battery.{name}={getattr(self, name)} is outside [soc_min_kwh, soc_max_kwh]")

    def spec(self, soc_init_kwh: float | None = None) -> BatterySpec:
        """The day-request battery part, starting at ``soc_init_kwh`` (default: the configured one)."""
        return BatterySpec(
            capacity_kwh=self.capacity_kwh, max_charge_kw=self.max_charge_kw, max_discharge_kw=self.max_discharge_kw,
            soc_init_kwh=self.soc_init_kwh if soc_init_kwh is None else soc_init_kwh,
            soc_final_min_kwh=self.soc_final_min_kwh, soc_min_kwh=self.soc_min_kwh, soc_max_kwh=self.soc_max_kwh,
            charge_efficiency=self.charge_efficiency, discharge_efficiency=self.discharge_efficiency,
            degradation_eur_kwh=self.degradation_eur_kwh,
        )
