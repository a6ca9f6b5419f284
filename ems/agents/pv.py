"""PVAgent: the building's PV generation and whether it may be curtailed."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class PVAgent:
    """PV meters (summed) and curtailment. ``pv_kw`` turns metered kWh per step into kW."""

    meters: list[str] = field(default_factory=lambda: ["pv"])
    curtailable: bool = True

    def pv_kw(self, energy_kwh: dict[str, np.ndarray], n_steps: int, step_hours: float = 1.0) -> np.ndarray:
        """Mean PV power per step (kW) from the meters' energy per step (kWh); 0 without meters."""
        total = np.zeros(n_steps)
        for meter in self.meters:
            if meter in energy_kwh:
                total = total + energy_kwh[meter]
        return total / step_hours
