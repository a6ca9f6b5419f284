"""PVAgent: how the plan may use the building's PV and how it is forecast (the PV itself is every
generation meter, summed in ``ems.planning.needs``)."""

from __future__ import annotations

from dataclasses import dataclass

from ems.forecasting import PVForecaster


@dataclass
class PVAgent:
    """``curtailable``: the plan may curtail PV at no cost (e.g. at negative export prices).
    ``latitude_deg`` / ``longitude_deg``: the site, for the sun position of the PV forecaster."""

    curtailable: bool = True
    latitude_deg: float = 47.66
    longitude_deg: float = 9.18

    def forecaster(self, quantiles: tuple[float, ...], timezone: str) -> PVForecaster:
        """A day-ahead PV forecaster for this site (fitted on the building's own PV, see ems.forecasting)."""
        return PVForecaster(self.latitude_deg, self.longitude_deg, tuple(quantiles), timezone)
