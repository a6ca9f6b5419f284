"""The device-kind registry: ``flex_model`` (or request key) -> the kind that owns its formulation.

Every part of a day request is formulated, extracted, prechecked and
rule-scheduled by its kind, as an oemof-solph component owns its constraint
block and PyPSA drives model building from a component table. Adding a kind
is one module here plus one entry in :data:`DEVICE_KINDS` (and its check in
``ems.optim.validate``).
"""

from __future__ import annotations

from ems.optim.kinds import grid
from ems.optim.kinds.base import DeviceKind, StorageKind
from ems.optim.kinds.cycle import KIND as CYCLE
from ems.optim.kinds.cycle import DiscretePhaseDevice
from ems.optim.kinds.thermal import KIND as THERMAL
from ems.optim.kinds.thermal import ThermalDevice
from ems.optim.kinds.storage import BATTERY, EV, BatterySpec, EVSession, EVSpec
from ems.optim.kinds.window import KIND as WINDOW
from ems.optim.kinds.window import PartialUsageDevice

#: Flexible devices of the request's ``devices`` list, by ``flex_model``.
DEVICE_KINDS: dict[str, DeviceKind] = {CYCLE.key: CYCLE, WINDOW.key: WINDOW, THERMAL.key: THERMAL}
#: Storage parts of the request, by request key.
STORAGE_KINDS: dict[str, StorageKind] = {BATTERY.key: BATTERY, EV.key: EV}

__all__ = ["BATTERY", "DEVICE_KINDS", "EV", "STORAGE_KINDS", "BatterySpec", "DeviceKind", "DiscretePhaseDevice",
           "EVSession", "EVSpec", "PartialUsageDevice", "StorageKind", "ThermalDevice", "UnknownKind", "device_kind", "grid"]


class UnknownKind(ValueError):
    """A flex_model no kind answers to."""


def device_kind(flex_model: str) -> DeviceKind:
    """The kind of a device's ``flex_model``; one clear error for an unknown one."""
    try:
        return DEVICE_KINDS[flex_model]
    except KeyError:
        raise UnknownKind(f"flex_model={flex_model!r}: no device kind of that name "
                          f"(known: {', '.join(DEVICE_KINDS)})") from None
