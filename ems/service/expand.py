"""The seed's short optimize request, expanded into a full day request.

``{"mode": "optimize", "building_id": "DE_KN_residential3", "target_date": "2025-06-08",
"price_profile": [one import price per local hour, EUR/kWh], "battery_enabled": true,
"ev_enabled": false}`` becomes: the building's typical base load and PV of that
month (by local hour), one run of each discrete-phase device with its typical
cycle, each partial-usage device's typical daily energy, the home battery and
EV of the config when enabled, the building's grid limits, the tariff's
feed-in price, and the PMFs the service has learned (with theta and w_prob of
the phases mode). A DST day needs 23 or 25 prices.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from ems.data.calendar import local_day_hours
from ems.learning.priors import informative
from ems.optim.request import DayRequest, DiscretePhaseDevice, PartialUsageDevice, RequestError, SolverSpec
from ems.service.profiles import BuildingProfile

SHORT_KEYS = {"mode", "building_id", "target_date", "price_profile", "battery_enabled", "ev_enabled"}


@dataclass
class ExpansionSettings:
    """What the short form takes from the config."""

    feed_in_eur_kwh: float
    theta: float
    w_prob: float
    battery: Any = None   # BatteryAgent or None
    ev: Any = None        # EVAgent or None
    timezone: str = "Europe/Berlin"
    solver: str = "highs"


def building_id(raw: Any) -> str:
    """``DE_KN_residential3`` or ``residential3`` -> ``residential3``."""
    if not isinstance(raw, str) or not raw:
        raise RequestError("building_id: expected a building name such as DE_KN_residential3")
    return raw.removeprefix("DE_KN_")


def is_short(body: dict) -> bool:
    return isinstance(body, dict) and "building_id" in body and "import_price_eur_kwh" not in body


def expand(body: dict, building, profile: BuildingProfile, pmfs, s: ExpansionSettings) -> DayRequest:
    """The full request for a short one (``pmfs`` has ``pmf(device, day_type)``)."""
    unknown = set(body) - SHORT_KEYS
    if unknown:
        raise RequestError(f"{sorted(unknown)[0]}: not a field of the short optimize request ({', '.join(sorted(SHORT_KEYS))})")
    day = iso_date(body.get("target_date"), "target_date")
    hours = local_day_hours(day, day, s.timezone)["local_hour"].to_numpy()
    prices = body.get("price_profile")
    if not isinstance(prices, list) or len(prices) != len(hours):
        got = len(prices) if isinstance(prices, list) else type(prices).__name__
        raise RequestError(f"price_profile: has {got} values, expected {len(hours)} (one per local hour of {day})")
    for i, p in enumerate(prices):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not np.isfinite(p):
            raise RequestError(f"price_profile[{i}]={p!r}: expected a finite number (EUR/kWh)")
    flags = {k: body.get(k, False) for k in ("battery_enabled", "ev_enabled")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise RequestError(f"{key}={value!r}: expected true or false")
    day_type = "weekend" if day.isoweekday() >= 6 else "weekday"
    n = len(hours)
    devices = []
    for device, phases in profile.cycles.items():
        if len(phases) <= n:
            devices.append(DiscretePhaseDevice(device, list(phases), 1, 0, n, 0,
                                               _pmf(pmfs, device, day_type, hours, s.theta), s.w_prob))
    for device, by_month in profile.daily_kwh.items():
        energy = float(by_month.get(day.month, 0.0))
        if device == "ev" or energy <= 0:
            continue
        cap = max(profile.max_kw.get(device, 0.0), energy / n)
        devices.append(PartialUsageDevice(device, energy, cap, 0, n, 0.0, _pmf(pmfs, device, day_type, hours, s.theta),
                                          s.w_prob))
    request = DayRequest(
        step_hours=1.0, import_price_eur_kwh=[float(p) for p in prices], export_price_eur_kwh=[s.feed_in_eur_kwh] * n,
        pv_kw=profile.hourly(profile.pv_kw, day.month)[hours].tolist(),
        base_load_kw=profile.hourly(profile.base_kw, day.month)[hours].tolist(),
        max_import_kw=building.grid.max_import_kw, max_export_kw=building.grid.max_export_kw,
        devices=devices, theta=s.theta, solver=SolverSpec(name=s.solver),
    )
    if flags["battery_enabled"]:
        if s.battery is None:
            raise RequestError("battery_enabled: the service's config has no battery (battery=none)")
        request.battery = s.battery.spec()
    if flags["ev_enabled"]:
        request.ev = _ev(building, profile, s, day, hours)
    return request


def iso_date(raw: Any, field: str) -> date:
    """``raw`` as a date; a RequestError naming ``field`` otherwise."""
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise RequestError(f"{field}={raw!r}: expected an ISO date YYYY-MM-DD") from None


def _pmf(pmfs, device: str, day_type: str, hours: np.ndarray, theta: float) -> list[float] | None:
    pmf = informative(pmfs.pmf(device, day_type), theta)
    return None if pmf is None else pmf[hours].tolist()


def _ev(building, profile: BuildingProfile, s: ExpansionSettings, day: date, hours: np.ndarray):
    if s.ev is None or "ev" not in building.devices:
        raise RequestError(f"ev_enabled: building {building.id} has no EV (or the service's config has ev=none)")
    energy = float(profile.daily_kwh.get("ev", {}).get(day.month, 0.0)) * s.ev.charge_efficiency
    deadline = int(np.argmax(hours >= s.ev.departure_hour)) if (hours >= s.ev.departure_hour).any() else len(hours)
    need = min(energy, s.ev.max_charge_kw * s.ev.charge_efficiency * deadline)
    return s.ev.spec(soc_init_kwh=max(s.ev.soc_target_kwh - need, 0.0), arrival_step=0, deadline_step=deadline)
