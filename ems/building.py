"""A building of the portfolio: which meters it has and what each device can do."""

from __future__ import annotations

from dataclasses import dataclass, field

from ems.optim.kinds import DEVICE_KINDS
from ems.optim.kinds.grid import Grid

#: The EV: a storage charged in plug-in sessions when an EV agent is configured (``ev=home``), else fixed load.
EV = "ev"
#: Meter roles that are not flexible devices (``continuous`` and ``none`` loads stay in base).
METER_ROLES = ("continuous", "none", "generation", "grid")
#: Device kinds a meter maps to directly (``ems.planning.needs`` poses its day's jobs). A ``thermal`` heat
#: pump stays ``partial_usage`` here: ``heating=thermal`` turns its daily quota into the thermal kind.
METERED_KINDS = tuple(k for k, kind in DEVICE_KINDS.items() if kind.metered)
#: Every flex model a building config may name: the metered kinds, the EV and the meter roles.
FLEX_MODELS = (*METERED_KINDS, EV, *METER_ROLES)


@dataclass
class Building:
    """One CoSSMic building (``id`` as in OPSD columns, e.g. ``residential4``).

    ``devices`` maps each metered device to its flex model (a device kind of
    ``ems.optim.kinds`` or a meter role). ``source_hint`` names the file that
    holds the building's readings, for the error raised when they are not in
    the database. ``separately_metered`` devices draw from the grid through
    their own supply meter, not through grid_import (their energy is added to
    the building's import). ``grid`` holds the connection limits (kW).
    """

    id: str
    description: str
    kind: str
    devices: dict[str, str]
    grid: Grid
    source_hint: str = "the OPSD household_data_60min_singleindex.csv"
    settlement_meters: list[str] = field(default_factory=lambda: ["grid_import"])
    separately_metered: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if isinstance(self.grid, dict):
            self.grid = Grid(**self.grid)
        for device, flex in self.devices.items():
            if flex in DEVICE_KINDS and flex not in METERED_KINDS:
                raise ValueError(f"building.devices.{device}: {flex} is not a meter's flex model; keep the heat "
                                 f"pump partial_usage and run with heating=thermal (heating.settings.devices)")
            if flex not in FLEX_MODELS:
                raise ValueError(
                    f"building.devices.{device}: flex model {flex!r} is not one of {', '.join(FLEX_MODELS)}"
                )
        for key in ("settlement_meters", "separately_metered"):
            for meter in getattr(self, key):
                if meter not in self.devices:
                    raise ValueError(f"building.{key}: {meter!r} is not a device of {self.id}")

    def devices_of(self, flex_model: str) -> list[str]:
        """Device names with the given flex model, in config order."""
        return [d for d, f in self.devices.items() if f == flex_model]

    def flexible(self) -> list[str]:
        """Devices whose flex model is a device kind (jobs of a day), in config order."""
        return [d for d, f in self.devices.items() if f in DEVICE_KINDS]

    def usage_devices(self) -> list[str]:
        """Devices whose usage is learned (PMFs, usage models): the flexible ones and the EV."""
        return [d for d, f in self.devices.items() if f in DEVICE_KINDS or f == EV]
