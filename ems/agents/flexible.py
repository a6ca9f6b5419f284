"""FlexibleDeviceAgent: one device scheduled alone against prices (the decentralized comparison)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ems.optim.optimize import optimize_day
from ems.optim.request import DayRequest, DiscretePhaseDevice, PartialUsageDevice
from ems.optim.result import DeviceSchedule
from ems.optim.solver import SolverSettings


class InfeasibleDevice(RuntimeError):
    """The device cannot be scheduled on its own; the message is the diagnosis."""


@dataclass
class FlexibleDeviceAgent:
    """Holds one flexible device and schedules it in isolation: it sees only the
    import price, not the house's other loads, PV, battery or grid limits."""

    device: DiscretePhaseDevice | PartialUsageDevice
    solver: SolverSettings = field(default_factory=SolverSettings)

    def optimize_day(self, import_price_eur_kwh: list[float], step_hours: float = 1.0, theta: float = 0.05) -> DeviceSchedule:
        """The device's cheapest schedule (kW per step) at ``import_price_eur_kwh``."""
        n = len(import_price_eur_kwh)
        peak = max(self.device.phases_kw) if isinstance(self.device, DiscretePhaseDevice) else self.device.max_kw
        runs = getattr(self.device, "runs", 1)
        request = DayRequest(step_hours, list(import_price_eur_kwh), [0.0] * n, [0.0] * n, [0.0] * n,
                             max_import_kw=peak * max(runs, 1), max_export_kw=0.0, devices=[self.device], theta=theta)
        result = optimize_day(request, self.solver)
        if not result.ok:
            raise InfeasibleDevice("; ".join(result.diagnosis))
        return result.devices[self.device.name]
