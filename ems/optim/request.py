"""The day request: everything one optimisation needs, with its JSON form.

Units are in the field names: kW for power, kWh for energy, EUR/kWh for
prices, steps for times (step ``t`` covers ``[t * step_hours, (t+1) * step_hours)``
hours from the start of the horizon). Lists hold one value per step. Every
check fails before solving with a one-line :class:`RequestError` naming the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

FLEX_MODELS = ("discrete_phase", "partial_usage")


class RequestError(ValueError):
    """A malformed day request; the message names the field."""


@dataclass
class DiscretePhaseDevice:
    """A cycle of per-step powers (kW) run ``runs`` times uninterrupted in [earliest_start, latest_end)."""

    name: str
    phases_kw: list[float]
    runs: int = 1
    earliest_start: int = 0
    latest_end: int | None = None
    min_gap_steps: int = 0
    pmf: list[float] | None = None
    preference_weight: float = 0.0
    flex_model: str = "discrete_phase"


@dataclass
class PartialUsageDevice:
    """``energy_kwh`` delivered in [earliest_start, latest_end) at 0..max_kw (or 0 / min_kw..max_kw)."""

    name: str
    energy_kwh: float
    max_kw: float
    earliest_start: int = 0
    latest_end: int | None = None
    min_kw: float = 0.0
    pmf: list[float] | None = None
    preference_weight: float = 0.0
    flex_model: str = "partial_usage"


@dataclass
class BatterySpec:
    """Home battery; powers are grid-side kW, efficiencies one-way fractions."""

    capacity_kwh: float
    max_charge_kw: float
    max_discharge_kw: float
    soc_init_kwh: float
    soc_final_min_kwh: float = 0.0
    soc_min_kwh: float = 0.0
    soc_max_kwh: float | None = None
    charge_efficiency: float = 1.0
    discharge_efficiency: float = 1.0
    degradation_eur_kwh: float = 0.0


@dataclass
class EVSpec:
    """EV plugged in from ``arrival_step``; SOC >= soc_target_kwh at ``deadline_step``."""

    capacity_kwh: float
    max_charge_kw: float
    soc_init_kwh: float
    soc_target_kwh: float
    arrival_step: int = 0
    deadline_step: int | None = None
    charge_efficiency: float = 1.0
    v2g: bool = False
    max_discharge_kw: float = 0.0
    discharge_efficiency: float = 1.0


@dataclass
class SolverSpec:
    name: str = "highs"
    mip_rel_gap: float = 0.0
    time_limit_s: float = 60.0


@dataclass
class DayRequest:
    """One building, one horizon of ``n_steps`` steps of ``step_hours`` hours."""

    step_hours: float
    import_price_eur_kwh: list[float]
    export_price_eur_kwh: list[float]
    pv_kw: list[float]
    base_load_kw: list[float]
    max_import_kw: float
    max_export_kw: float
    devices: list[DiscretePhaseDevice | PartialUsageDevice] = field(default_factory=list)
    battery: BatterySpec | None = None
    ev: EVSpec | None = None
    theta: float = 0.05
    solver: SolverSpec = field(default_factory=SolverSpec)
    pv_curtailable: bool = True

    def __post_init__(self) -> None:
        """Open windows (``latest_end`` / ``deadline_step`` None) end with the horizon."""
        for device in self.devices:
            if device.latest_end is None:
                device.latest_end = self.n_steps
        if self.ev is not None and self.ev.deadline_step is None:
            self.ev.deadline_step = self.n_steps

    @property
    def n_steps(self) -> int:
        return len(self.import_price_eur_kwh)


def parse_request(data: Any) -> DayRequest:
    """Validate a JSON-like dict and build a :class:`DayRequest`."""
    r = _Reader(data, "")
    step_hours = r.number("step_hours", default=1.0, positive=True)
    prices = r.series("import_price_eur_kwh")
    n = len(prices)
    if n == 0:
        raise RequestError("import_price_eur_kwh: needs at least one step")
    export = data.get("export_price_eur_kwh") if isinstance(data, dict) else None
    export_prices = [r.number("export_price_eur_kwh")] * n if isinstance(export, (int, float)) else r.series(
        "export_price_eur_kwh", n)
    grid = _Reader(r.mapping("grid"), "grid")
    request = DayRequest(
        step_hours=step_hours,
        import_price_eur_kwh=prices,
        export_price_eur_kwh=export_prices,
        pv_kw=r.series("pv_kw", n, non_negative=True, default=[0.0] * n),
        base_load_kw=r.series("base_load_kw", n, non_negative=True, default=[0.0] * n),
        max_import_kw=grid.number("max_import_kw", non_negative=True),
        max_export_kw=grid.number("max_export_kw", non_negative=True),
        theta=r.number("theta", default=0.05, lo=0.0, hi=1.0),
        pv_curtailable=r.flag("pv_curtailable", default=True),
    )
    names = set()
    for i, raw in enumerate(r.list("devices", default=[])):
        device = _device(_Reader(raw, f"devices[{i}]"), n)
        if device.name in names:
            raise RequestError(f"devices[{i}].name: {device.name!r} appears twice; device names must be unique")
        names.add(device.name)
        request.devices.append(device)
    if isinstance(data, dict) and data.get("battery") is not None:
        request.battery = _battery(_Reader(data["battery"], "battery"))
    if isinstance(data, dict) and data.get("ev") is not None:
        request.ev = _ev(_Reader(data["ev"], "ev"), n)
    if isinstance(data, dict) and data.get("solver") is not None:
        s = _Reader(data["solver"], "solver")
        request.solver = SolverSpec(s.text("name", default="highs", choices=("highs", "cbc")),
                                    s.number("mip_rel_gap", default=0.0, lo=0.0, hi=1.0),
                                    s.number("time_limit_s", default=60.0, positive=True))
    return request


def _device(r: "_Reader", n: int) -> DiscretePhaseDevice | PartialUsageDevice:
    name = r.text("name")
    flex = r.text("flex_model", choices=FLEX_MODELS)
    earliest = r.integer("earliest_start", default=0, lo=0, hi=n)
    latest = r.integer("latest_end", default=n, lo=0, hi=n)
    if latest <= earliest:
        raise RequestError(f"{r.where}.latest_end={latest} must be after earliest_start={earliest}")
    pmf = r.series("pmf", n, non_negative=True, default=None)
    weight = r.number("preference_weight", default=0.0, non_negative=True)
    if flex == "discrete_phase":
        phases = r.series("phases_kw", None, non_negative=True)
        if not phases:
            raise RequestError(f"{r.where}.phases_kw: needs at least one phase")
        return DiscretePhaseDevice(name, phases, r.integer("runs", default=1, lo=0),
                                   earliest, latest, r.integer("min_gap_steps", default=0, lo=0), pmf, weight)
    max_kw = r.number("max_kw", non_negative=True)
    min_kw = r.number("min_kw", default=0.0, non_negative=True)
    if min_kw > max_kw:
        raise RequestError(f"{r.where}.min_kw={min_kw} exceeds max_kw={max_kw}")
    return PartialUsageDevice(name, r.number("energy_kwh", non_negative=True), max_kw, earliest, latest, min_kw,
                              pmf, weight)


def _battery(r: "_Reader") -> BatterySpec:
    capacity = r.number("capacity_kwh", non_negative=True)
    b = BatterySpec(
        capacity_kwh=capacity,
        max_charge_kw=r.number("max_charge_kw", non_negative=True),
        max_discharge_kw=r.number("max_discharge_kw", non_negative=True),
        soc_init_kwh=r.number("soc_init_kwh", non_negative=True),
        soc_final_min_kwh=r.number("soc_final_min_kwh", default=0.0, non_negative=True),
        soc_min_kwh=r.number("soc_min_kwh", default=0.0, non_negative=True),
        soc_max_kwh=r.number("soc_max_kwh", default=capacity, non_negative=True),
        charge_efficiency=r.number("charge_efficiency", default=1.0, efficiency=True),
        discharge_efficiency=r.number("discharge_efficiency", default=1.0, efficiency=True),
        degradation_eur_kwh=r.number("degradation_eur_kwh", default=0.0, non_negative=True),
    )
    if not b.soc_min_kwh <= b.soc_max_kwh <= b.capacity_kwh:
        raise RequestError("battery: need soc_min_kwh <= soc_max_kwh <= capacity_kwh")
    for key in ("soc_init_kwh", "soc_final_min_kwh"):
        if not b.soc_min_kwh <= getattr(b, key) <= b.soc_max_kwh:
            raise RequestError(f"battery.{key}={getattr(b, key)} is outside [soc_min_kwh, soc_max_kwh]")
    return b


def _ev(r: "_Reader", n: int) -> EVSpec:
    ev = EVSpec(
        capacity_kwh=r.number("capacity_kwh", non_negative=True),
        max_charge_kw=r.number("max_charge_kw", non_negative=True),
        soc_init_kwh=r.number("soc_init_kwh", non_negative=True),
        soc_target_kwh=r.number("soc_target_kwh", non_negative=True),
        arrival_step=r.integer("arrival_step", default=0, lo=0, hi=n),
        deadline_step=r.integer("deadline_step", default=n, lo=0, hi=n),
        charge_efficiency=r.number("charge_efficiency", default=1.0, efficiency=True),
        v2g=r.flag("v2g", default=False),
        max_discharge_kw=r.number("max_discharge_kw", default=0.0, non_negative=True),
        discharge_efficiency=r.number("discharge_efficiency", default=1.0, efficiency=True),
    )
    for key in ("soc_init_kwh", "soc_target_kwh"):
        if getattr(ev, key) > ev.capacity_kwh:
            raise RequestError(f"ev.{key}={getattr(ev, key)} exceeds ev.capacity_kwh={ev.capacity_kwh}")
    if ev.deadline_step < ev.arrival_step:
        raise RequestError(f"ev.deadline_step={ev.deadline_step} is before ev.arrival_step={ev.arrival_step}")
    return ev


class _Reader:
    """Typed access to one JSON object with one-line errors naming ``where.key``."""

    MISSING = object()

    def __init__(self, raw: Any, where: str):
        if not isinstance(raw, dict):
            raise RequestError(f"{where or 'request'}: expected a JSON object, got {type(raw).__name__}")
        self.raw, self.where = raw, where

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def _get(self, key: str, default: Any) -> Any:
        value = self.raw.get(key, default)
        if value is self.MISSING:
            raise RequestError(f"{self._name(key)}: required field is missing")
        return value

    def number(self, key: str, default: Any = MISSING, *, positive: bool = False, non_negative: bool = False,
               efficiency: bool = False, lo: float | None = None, hi: float | None = None) -> float:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise RequestError(f"{self._name(key)}={value!r}: expected a finite number")
        if positive and value <= 0:
            raise RequestError(f"{self._name(key)}={value}: must be positive")
        if non_negative and value < 0:
            raise RequestError(f"{self._name(key)}={value}: must not be negative")
        if efficiency and not 0 < value <= 1:
            raise RequestError(f"{self._name(key)}={value}: an efficiency must be in (0, 1]")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise RequestError(f"{self._name(key)}={value}: must be in [{lo}, {hi}]")
        return float(value)

    def integer(self, key: str, default: Any = MISSING, *, lo: int | None = None, hi: int | None = None) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise RequestError(f"{self._name(key)}={value!r}: expected a whole number")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise RequestError(f"{self._name(key)}={value}: must be in [{lo}, {hi}]")
        return value

    def text(self, key: str, default: Any = MISSING, *, choices: tuple[str, ...] | None = None) -> str:
        value = self._get(key, default)
        if not isinstance(value, str) or not value:
            raise RequestError(f"{self._name(key)}={value!r}: expected a non-empty string")
        if choices and value not in choices:
            raise RequestError(f"{self._name(key)}={value!r}: must be one of {', '.join(choices)}")
        return value

    def flag(self, key: str, default: Any = MISSING) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise RequestError(f"{self._name(key)}={value!r}: expected true or false")
        return value

    def mapping(self, key: str) -> dict:
        return self._get(key, self.MISSING)

    def list(self, key: str, default: Any = MISSING) -> list:
        value = self._get(key, default)
        if not isinstance(value, list):
            raise RequestError(f"{self._name(key)}: expected a list")
        return value

    def series(self, key: str, n: int | None = None, *, non_negative: bool = False, default: Any = MISSING):
        value = self._get(key, default)
        if value is None:
            return None
        where = self._name(key)
        if not isinstance(value, list):
            raise RequestError(f"{where}: expected a list of numbers")
        if n is not None and len(value) != n:
            raise RequestError(f"{where}: has {len(value)} values, expected {n} (one per step)")
        for i, v in enumerate(value):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise RequestError(f"{where}[{i}]={v!r}: expected a finite number")
            if non_negative and v < 0:
                raise RequestError(f"{where}[{i}]={v}: must not be negative")
        return [float(v) for v in value]
