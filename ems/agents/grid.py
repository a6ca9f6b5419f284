"""GridAgent: the building's connection to the public grid."""

from __future__ import annotations

from dataclasses import dataclass

from ems.agents.checks import require_non_negative


@dataclass
class GridAgent:
    """Import and export limits of the grid connection, kW (grid side)."""

    max_import_kw: float
    max_export_kw: float

    def __post_init__(self) -> None:
        require_non_negative(self, "max_import_kw", "max_export_kw")
