"""A building of the portfolio: which meters it has and what each device can do."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class SyntheticMeter:
    """A meter no one recorded: meter ``copy_of`` of the same building ``lag_days`` days earlier (see Building)."""

    copy_of: str
    lag_days: int

    @classmethod
    def parse(cls, name: str, spec: Any, building: "Building") -> "SyntheticMeter":
        where = f"building.synthetic_meters.{name}"
        if isinstance(spec, SyntheticMeter):
            return spec
        if not isinstance(spec, dict) or set(spec) != {"copy_of", "lag_days"}:
            raise ValueError(f"{where}: expected {{copy_of: <a meter of {building.id}>, lag_days: <whole days >= 1>}}")
        if name in building.devices:
            raise ValueError(f"{where}: {name!r} is a real meter of {building.id}; name the synthetic one otherwise")
        if building.devices.get(spec["copy_of"]) != EV:
            raise ValueError(f"{where}.copy_of={spec['copy_of']!r}: not an EV meter of {building.id} (its EV meters: "
                             f"{', '.join(d for d, f in building.devices.items() if f == EV) or 'none'})")
        lag = spec["lag_days"]
        if isinstance(lag, bool) or not isinstance(lag, int) or lag < 1:
            raise ValueError(f"{where}.lag_days={lag!r}: expected a whole number of days >= 1")
        return cls(spec["copy_of"], lag)

    def note(self, name: str, building: str) -> str:
        return (f"synthetic: {building} {name} is meter {self.copy_of} {self.lag_days} days earlier (no such meter "
                f"exists; its energy is added to the import)")


@dataclass
class Building:
    """One CoSSMic building (``id`` as in OPSD columns, e.g. ``residential4``).

    ``devices`` maps each metered device to its flex model (a device kind of
    ``ems.optim.kinds`` or a meter role). ``source_hint`` names the file that
    holds the building's readings, for the error raised when they are not in
    the database. ``separately_metered`` devices draw from the grid through
    their own supply meter, not through grid_import (their energy is added to
    the building's import). ``grid`` holds the connection limits (kW).

    ``synthetic_meters`` are meters no one recorded, each labelled synthetic in every output of a run: a
    copy of a real EV meter ``copy_of`` taken ``lag_days`` days earlier (the same UTC hours): a second
    car with the first car's habits, out of phase. Each draws through its own supply meter (its
    energy is added to the import) and is an EV meter like the one it copies.
    """

    id: str
    description: str
    kind: str
    devices: dict[str, str]
    grid: Grid
    source_hint: str = "the OPSD household_data_60min_singleindex.csv"
    settlement_meters: list[str] = field(default_factory=lambda: ["grid_import"])
    separately_metered: list[str] = field(default_factory=list)
    synthetic_meters: dict[str, dict] = field(default_factory=dict)

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
        self.synthetic_meters = {name: SyntheticMeter.parse(name, spec, self) for name, spec in
                                 (self.synthetic_meters or {}).items()}

    def devices_of(self, flex_model: str) -> list[str]:
        """Device names with the given flex model, in config order (synthetic meters after the real ones)."""
        return [d for d, f in self.devices.items() if f == flex_model] + [
            name for name, s in self.synthetic_meters.items() if self.devices[s.copy_of] == flex_model]

    def synthetic_notes(self) -> list[str]:
        """One line per synthetic meter, for every output of a run that uses it."""
        return [s.note(name, self.id) for name, s in self.synthetic_meters.items()]

    def flexible(self) -> list[str]:
        """Devices whose flex model is a device kind (jobs of a day), in config order."""
        return [d for d, f in self.devices.items() if f in DEVICE_KINDS]

    def usage_devices(self) -> list[str]:
        """Devices whose usage is learned (PMFs, usage models): the flexible ones and the EV."""
        return [d for d, f in self.devices.items() if f in DEVICE_KINDS or f == EV]
