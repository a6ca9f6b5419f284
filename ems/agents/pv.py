"""PVAgent: the building's PV generation (every generation meter) and whether it may be curtailed."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class PVAgent:
    """PV of the building: the sum of its generation meters (e.g. industrial3's ``pv_facade`` and
    ``pv_roof``). ``curtailable``: the plan may curtail PV (at negative export prices)."""

    meters: list[str] = field(default_factory=list)
    curtailable: bool = True

    def actual_kw(self, energy_kwh: dict[str, np.ndarray], n_steps: int, step_hours: float = 1.0) -> np.ndarray:
        """Mean PV power per step (kW) from the meters' energy per step (kWh); 0 without meters."""
        total = np.zeros(n_steps)
        for meter in self.meters:
            if meter in energy_kwh:
                total = total + np.nan_to_num(energy_kwh[meter])
        return total / step_hours
