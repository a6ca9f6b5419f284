"""The seed's short optimize request, expanded into a full day request by the one day-request builder.

``{"mode": "optimize", "building_id": "DE_KN_residential3", "target_date": "2025-06-08",
"price_profile": [one import price per local hour, EUR/kWh], "battery_enabled": true,
"ev_enabled": false}`` becomes: the building's typical day of that month
(:func:`ems.service.profiles.typical_needs`), priced and completed by the
house's :class:`~ems.agents.optimizer.GlobalOptimizer` (grid limits, the
config's battery and EV when enabled, the tariff's feed-in price), with the
PMFs the service has learned (theta and w_prob of the service's mode). A DST
day needs 23 or 25 prices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from pydantic import Field, field_validator

from ems.agents.battery import BatteryAgent
from ems.agents.ev import EVAgent
from ems.agents.optimizer import GlobalOptimizer
from ems.data.calendar import local_day_hours
from ems.learning.priors import PmfSource
from ems.optim.kinds.base import Number, Record
from ems.optim.request import DayRequest, RequestError, parse_record
from ems.optim.solver import SolverSpec
from ems.planning.preferences import with_preferences
from ems.service.profiles import BuildingProfile, typical_needs


class ShortRequest(Record):
    """The seed's short form of an optimize request."""

    label = "short optimize request"
    mode: Literal["optimize"] = "optimize"
    building_id: str = Field(min_length=1, description="DE_KN_residential3 or residential3")
    target_date: str = Field(description="local day, ISO YYYY-MM-DD")
    price_profile: list[Number] = Field(description="import price per local hour, EUR/kWh (23/25 on DST days)")
    battery_enabled: bool = False
    ev_enabled: bool = False

    @field_validator("target_date")
    @classmethod
    def _iso(cls, value: str) -> str:
        iso_date(value, "target_date")
        return value


@dataclass
class ExpansionSettings:
    """What the short form takes from the service's config."""

    feed_in_eur_kwh: float
    theta: float
    w_prob: float
    #: The service's batteries and EVs (``battery=`` / ``ev=`` or the ``batteries`` / ``evs`` lists).
    batteries: list[BatteryAgent] = field(default_factory=list)
    evs: list[EVAgent] = field(default_factory=list)
    timezone: str = "Europe/Berlin"
    solver: str = "highs"


def is_short(body: Any) -> bool:
    return isinstance(body, dict) and "building_id" in body and "import_price_eur_kwh" not in body


def parse_short(body: Any) -> ShortRequest:
    """The short form validated (unknown keys refused, naming the key)."""
    return parse_record(ShortRequest, body)


def expand(body: dict | ShortRequest, building, profile: BuildingProfile, pmfs: PmfSource,
           s: ExpansionSettings) -> DayRequest:
    """The full request for a short one."""
    short = body if isinstance(body, ShortRequest) else parse_short(body)
    day = iso_date(short.target_date, "target_date")
    hours = local_day_hours(day, day, s.timezone)["local_hour"].to_numpy()
    if len(short.price_profile) != len(hours):
        raise RequestError(f"price_profile: has {len(short.price_profile)} values, expected {len(hours)} "
                           f"(one per local hour of {day})")
    if short.battery_enabled and not s.batteries:
        raise RequestError("battery_enabled: the service runs without a battery (start it with --set battery=home)")
    if short.ev_enabled and (not s.evs or "ev" not in building.devices.values()):
        raise RequestError(f"ev_enabled: building {building.id} has no EV (or the service runs with ev=none)")
    evs = s.evs if short.ev_enabled else []
    try:
        needs = typical_needs(profile, building, day, hours, evs)
    except ValueError as exc:  # an EV whose meter the building does not have
        raise RequestError(f"ev_enabled: {exc}") from None
    coordinator = GlobalOptimizer(building.grid, SolverSpec(name=s.solver),
                                  s.batteries if short.battery_enabled else [], evs, theta=s.theta)
    request = coordinator.request(needs, short.price_profile, [s.feed_in_eur_kwh] * len(hours))
    return with_preferences(request, needs.device_of, day, hours, pmfs, s.theta, s.w_prob)


def iso_date(raw: Any, field: str) -> date:
    """``raw`` as a date; a RequestError naming ``field`` otherwise."""
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise RequestError(f"{field}={raw!r}: expected an ISO date YYYY-MM-DD") from None
