"""Typical cycles: each discrete-phase device's hourly profile, derived from its real runs.

The typical cycle is the element-wise median profile (kW per hour) of the
runs with the most common duration. ``python -m ems cycles [BUILDING ...]``
prints them for the shipped buildings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl


@dataclass
class Cycle:
    """A device's typical cycle and the evidence behind it."""

    device: str
    phases_kw: list[float]
    runs: int          # runs of the modal duration
    all_runs: int


def typical_cycles(events: pl.DataFrame) -> dict[str, Cycle]:
    """Device -> typical cycle from its usage events (see :mod:`ems.learning.runs`)."""
    out = {}
    for device in sorted(events["device"].unique().to_list()):
        mine = events.filter(pl.col("device") == device)
        counts = mine.group_by("hours").len().sort(["len", "hours"], descending=[True, False])
        duration = int(counts["hours"][0])
        profiles = np.array(mine.filter(pl.col("hours") == duration)["profile"].to_list(), dtype=float)
        out[device] = Cycle(device, np.round(np.median(profiles, axis=0), 3).tolist(), len(profiles), mine.height)
    return out
