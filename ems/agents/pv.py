"""PVAgent: how the plan may use the building's PV (the PV itself is every generation meter, summed in
``ems.planning.needs``; a PV forecaster plugs in through the ``forecast`` group)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PVAgent:
    """``curtailable``: the plan may curtail PV at no cost (e.g. at negative export prices)."""

    curtailable: bool = True
