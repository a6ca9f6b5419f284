"""BatteryAgent: a stationary home battery that carries its state of charge from day to day."""

from __future__ import annotations

from dataclasses import dataclass, field

from ems.checks import require_efficiency, require_fraction, require_non_negative
from ems.optim.kinds.storage import BatterySpec
from ems.optim.result import DayResult


@dataclass
class BatteryAgent:
    """Home battery. Energies in kWh, powers in kW on the grid (AC) side,
    efficiencies one-way fractions in (0, 1], degradation in EUR per kWh of
    throughput (charge plus discharge, grid side). SOC levels are fractions
    of ``capacity_kwh``, so a capacity sweep scales them.

    State: ``soc_kwh``, the SOC at the start of the next day to plan; a day's
    plan moves it (:meth:`end_day`).
    """

    capacity_kwh: float
    max_charge_kw: float
    max_discharge_kw: float
    soc_min_frac: float
    soc_max_frac: float
    soc_init_frac: float
    soc_final_min_frac: float
    charge_efficiency: float
    discharge_efficiency: float
    degradation_eur_kwh: float
    #: Names the battery in the request, the result and the KPIs (several batteries: each its own name).
    name: str = "battery"
    soc_kwh: float = field(init=False)

    def __post_init__(self) -> None:
        require_non_negative(self, "capacity_kwh", "max_charge_kw", "max_discharge_kw", "degradation_eur_kwh")
        require_efficiency(self, "charge_efficiency", "discharge_efficiency")
        require_fraction(self, "soc_min_frac", "soc_max_frac", "soc_init_frac", "soc_final_min_frac")
        if self.soc_min_frac > self.soc_max_frac:
            raise ValueError(f"battery.soc_min_frac={self.soc_min_frac} exceeds battery.soc_max_frac={self.soc_max_frac}")
        for name in ("soc_init_frac", "soc_final_min_frac"):
            if not self.soc_min_frac <= getattr(self, name) <= self.soc_max_frac:
                raise ValueError(f"battery.{name}={getattr(self, name)} is outside [battery.soc_min_frac, "
                                 f"battery.soc_max_frac] = [{self.soc_min_frac}, {self.soc_max_frac}]")
        self._template = BatterySpec(  # validated once, here
            name=self.name, capacity_kwh=self.capacity_kwh, max_charge_kw=self.max_charge_kw, max_discharge_kw=self.max_discharge_kw,
            soc_init_kwh=self.kwh(self.soc_init_frac), soc_final_min_kwh=self.kwh(self.soc_final_min_frac),
            soc_min_kwh=self.kwh(self.soc_min_frac), soc_max_kwh=self.kwh(self.soc_max_frac),
            charge_efficiency=self.charge_efficiency, discharge_efficiency=self.discharge_efficiency,
            degradation_eur_kwh=self.degradation_eur_kwh)
        self.soc_kwh = self._template.soc_init_kwh

    def kwh(self, fraction: float) -> float:
        """A SOC fraction of the capacity in kWh."""
        return fraction * self.capacity_kwh

    def spec(self, soc_init_kwh: float | None = None) -> BatterySpec:
        """The day-request battery part, starting at ``soc_init_kwh`` (default: the agent's current SOC)."""
        soc = self.soc_kwh if soc_init_kwh is None else soc_init_kwh
        return self._template.model_copy(update={"soc_init_kwh": soc})

    def end_day(self, plan: DayResult) -> None:
        """Carry the plan's final SOC into the next day (a plan without the battery leaves it), within
        [soc_min, soc_max]: a solver may end a hair (its feasibility tolerance, ~1e-9 kWh) outside them."""
        schedule = plan.storages.get(self.name)
        if plan.ok and schedule is not None:
            t = self._template
            self.soc_kwh = min(max(schedule.soc_kwh[-1], t.soc_min_kwh), t.soc_max_kwh or t.capacity_kwh)

    def reset(self) -> None:
        """Back to the configured initial SOC (a new replay)."""
        self.soc_kwh = self._template.soc_init_kwh
