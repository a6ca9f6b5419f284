"""A building of the portfolio: which meters it has and what each device can do."""

from __future__ import annotations

from dataclasses import dataclass, field

from ems.agents.grid import GridAgent

FLEX_MODELS = ("discrete_phase", "partial_usage", "continuous", "none", "generation", "grid")


@dataclass
class Building:
    """One CoSSMic building (``id`` as in OPSD columns, e.g. ``residential4``).

    ``devices`` maps each metered device to its flex model. ``source_hint``
    names the file that holds the building's readings, for the error raised
    when they are not in the database. ``separately_metered`` devices draw
    from the grid through their own supply meter, not through grid_import
    (their energy is added to the building's import).
    """

    id: str
    description: str
    kind: str
    devices: dict[str, str]
    grid: GridAgent
    source_hint: str = "the OPSD household_data_60min_singleindex.csv"
    settlement_meters: list[str] = field(default_factory=lambda: ["grid_import"])
    separately_metered: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for device, flex in self.devices.items():
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
