"""FlexibleDeviceAgent: one flexible device scheduled alone (the decentralized comparison)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ems.optim.kinds import device_kind
from ems.optim.optimize import optimize_day
from ems.optim.request import DayRequest, Device, Grid
from ems.optim.result import DeviceSchedule
from ems.optim.solver import SolverSpec


class InfeasibleDevice(RuntimeError):
    """The device cannot be scheduled on its own; the message is the diagnosis."""


@dataclass
class FlexibleDeviceAgent:
    """Holds one flexible device of the day and schedules it in isolation: it sees only
    the import price, not the house's other loads, PV, battery or grid limits."""

    device: Device
    solver: SolverSpec = field(default_factory=SolverSpec)

    def optimize_day(self, import_price_eur_kwh: list[float], step_hours: float = 1.0, theta: float = 0.05) -> DeviceSchedule:
        """The device's cheapest schedule (kW per step) at ``import_price_eur_kwh`` (EUR/kWh)."""
        peak = device_kind(self.device.flex_model).peak_kw(self.device)
        request = DayRequest(step_hours=step_hours, import_price_eur_kwh=list(import_price_eur_kwh),
                             grid=Grid(max_import_kw=peak, max_export_kw=0.0), devices=[self.device], theta=theta)
        result = optimize_day(request, self.solver)
        if not result.ok:
            raise InfeasibleDevice("; ".join(result.diagnosis))
        return result.devices[self.device.name]
