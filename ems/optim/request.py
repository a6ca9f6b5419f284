"""The day request: everything one optimisation needs, as one pydantic schema.

The same models parse the CLI's JSON file, the service's body (FastAPI
documents them in ``/docs``) and the pyfunc model's rows. Units are in the
field names: kW for power, kWh for energy, EUR/kWh for prices, steps for times
(step ``t`` covers ``[t * step_hours, (t+1) * step_hours)`` hours from the
start of the horizon). Lists hold one value per step. Every check fails
before solving with a one-line :class:`RequestError` naming the field; an
unknown key is refused with the key named.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, TypeVar, Union

import logging

from pydantic import Field, PrivateAttr, ValidationError, model_validator

from ems.messages import one_line
from ems.optim.kinds import DEVICE_KINDS, STORAGE_KINDS, StorageKind
from ems.optim.kinds.base import NonNegative, Number, Positive, Record
from ems.optim.kinds.cycle import DiscretePhaseDevice
from ems.optim.kinds.grid import DemandCharge, Grid
from ems.optim.kinds.storage import BatterySpec, EVSession, EVSpec
from ems.optim.kinds.thermal import ThermalDevice
from ems.optim.kinds.window import PartialUsageDevice
from ems.optim.solver import SolverSpec

__all__ = ["BatterySpec", "DayRequest", "DemandCharge", "Device", "DiscretePhaseDevice", "EVSession", "EVSpec", "Grid",
           "PartialUsageDevice", "RequestError", "SolverSpec", "ThermalDevice", "parse_request", "request_error"]

R = TypeVar("R", bound=Record)
log = logging.getLogger(__name__)

#: Horizon steps a request may have unless the caller sets its own limit (``optimize --max-steps``,
#: ``service.max_steps``): 1,000 steps is six weeks of hours or ten days of quarter hours.
DEFAULT_MAX_STEPS = 1000
#: Longest step (hours): one day.
MAX_STEP_HOURS = 24.0
#: A device ``pmf`` whose sum is this close to 1 is taken as it is; any other (positive) sum is
#: normalised to 1 with a warning in the result.
PMF_SUM_TOL = 1e-6
#: The request key of one storage part -> its list (``battery`` is read as ``batteries: [battery]``).
SINGULAR = {"battery": "batteries", "ev": "evs"}
#: Names a device may not have: the request's own parts (its result keys and diagnosis names).
RESERVED_NAMES = ("grid", *STORAGE_KINDS)


class RequestError(ValueError):
    """A malformed day request; the message names the field."""


#: One entry of ``devices``: the kind is chosen by ``flex_model`` from the kind registry.
Device = Annotated[Union[tuple(kind.spec for kind in DEVICE_KINDS.values())], Field(discriminator="flex_model")]


class DayRequest(Record):
    """One building, one horizon of ``n_steps`` steps of ``step_hours`` hours.

    ``export_price_eur_kwh`` may be one number for every step. Open windows
    (``latest_end`` / ``deadline_step`` null) end with the horizon.
    """

    label = "day request"
    step_hours: Annotated[Positive, Field(le=MAX_STEP_HOURS)] = 1.0
    import_price_eur_kwh: list[Number]
    export_price_eur_kwh: list[Number] | None = None
    pv_kw: list[NonNegative] | None = None
    base_load_kw: list[NonNegative] | None = None
    grid: Grid
    devices: list[Device] = Field(default_factory=list)
    #: Home batteries and EVs, any number of each, each with its own SOC (and sessions). A single one may
    #: be given as ``battery`` / ``ev`` (an object), which is read as a one-element list.
    batteries: list[BatterySpec] = Field(default_factory=list)
    evs: list[EVSpec] = Field(default_factory=list)
    theta: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.05
    solver: SolverSpec = Field(default_factory=SolverSpec)
    pv_curtailable: bool = True
    demand_charge: DemandCharge | None = None
    _warnings: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for one, many in SINGULAR.items():
                if one not in data:
                    continue
                if many in data:
                    raise ValueError(f"{one}: give either {one} (one) or {many} (a list), not both")
                value = data.pop(one)
                data[many] = [] if value is None else [value]
        data = cls.check_keys(data)
        export = data.get("export_price_eur_kwh") if isinstance(data, dict) else None
        if isinstance(export, (int, float)) and not isinstance(export, bool):
            prices = data.get("import_price_eur_kwh")
            data = {**data, "export_price_eur_kwh": [export] * (len(prices) if isinstance(prices, list) else 0)}
        return data

    @model_validator(mode="after")
    def _horizon(self) -> "DayRequest":
        n = len(self.import_price_eur_kwh)
        if n == 0:
            raise ValueError("import_price_eur_kwh: needs at least one step")
        for key in ("export_price_eur_kwh", "pv_kw", "base_load_kw"):
            values = getattr(self, key)
            if values is None:
                setattr(self, key, [0.0] * n)
            elif len(values) != n:
                raise ValueError(f"{key}: has {len(values)} values, expected {n} (one per step)")
        names: set[str] = set()
        for i, d in enumerate(self.devices):
            where = f"devices[{i}]"
            if d.name in names:
                raise ValueError(f"{where}.name: {d.name!r} appears twice; device names must be unique")
            if d.name in RESERVED_NAMES:
                raise ValueError(f"{where}.name: {d.name!r} is reserved for the request's own "
                                 f"{d.name}; name the device otherwise (reserved: {', '.join(RESERVED_NAMES)})")
            names.add(d.name)
            if d.latest_end is None:
                d.latest_end = n
            for key in ("earliest_start", "latest_end"):
                if getattr(d, key) > n:
                    raise ValueError(f"{where}.{key}={getattr(d, key)}: must be in [0, {n}]")
            if d.latest_end <= d.earliest_start:
                raise ValueError(f"{where}.latest_end={d.latest_end} must be after earliest_start={d.earliest_start}")
            for key in d.per_step:
                if len(getattr(d, key)) != n:
                    raise ValueError(f"{where}.{key}: has {len(getattr(d, key))} values, expected {n} (one per step)")
            if d.pmf is not None:
                self._check_pmf(where, d, n)
        for many in SINGULAR.values():
            for j, spec in enumerate(getattr(self, many)):
                where = f"{many}[{j}]"
                if spec.name in names or spec.name == "grid":
                    raise ValueError(f"{where}.name: {spec.name!r} is taken by another part of the request; "
                                     f"give each battery and EV its own name")
                names.add(spec.name)
                for i, s in enumerate(getattr(spec, "sessions", ())):
                    if s.deadline_step is None:
                        s.deadline_step = n
                    for key in ("arrival_step", "deadline_step"):
                        if getattr(s, key) > n:
                            raise ValueError(f"{where}.sessions[{i}].{key}={getattr(s, key)}: must be in [0, {n}]")
        return self

    def _check_pmf(self, where: str, d: Any, n: int) -> None:
        if len(d.pmf) != n:
            raise ValueError(f"{where}.pmf: has {len(d.pmf)} values, expected {n} (one per step)")
        total = float(sum(d.pmf))
        if total <= 0:
            raise ValueError(f"{where}.pmf: every value is 0; leave pmf out for a device without preferences")
        if abs(total - 1.0) > PMF_SUM_TOL:
            d.pmf = [p / total for p in d.pmf]
            self._warnings.append(f"{where}.pmf: sums to {total:.6g}, not 1; normalised to 1")

    @property
    def warnings(self) -> list[str]:
        """What validation changed in the request (e.g. a normalised pmf), one line each."""
        return list(self._warnings)

    def check_horizon(self, max_steps: int) -> "DayRequest":
        """The request itself; a RequestError when it has more than ``max_steps`` steps."""
        if self.n_steps > max_steps:
            raise RequestError(f"import_price_eur_kwh: has {self.n_steps} steps, more than the limit of {max_steps} "
                               f"(a longer horizon needs a higher limit: optimize --max-steps, service.max_steps)")
        return self

    @property
    def n_steps(self) -> int:
        return len(self.import_price_eur_kwh)

    @property
    def max_import_kw(self) -> float:
        return self.grid.max_import_kw

    @property
    def max_export_kw(self) -> float:
        return self.grid.max_export_kw

    def storages(self) -> Iterator[tuple[StorageKind, Any]]:
        """(kind, spec) of each battery and EV, batteries first, each list in its order."""
        for key, many in SINGULAR.items():
            for spec in getattr(self, many):
                yield STORAGE_KINDS[key], spec

    def storage_names(self) -> list[str]:
        """The names of every battery and EV, in :meth:`storages` order."""
        return [spec.name for _, spec in self.storages()]

    def without_storage(self, name: str) -> "DayRequest":
        """A copy without the battery or EV called ``name``."""
        return self.model_copy(update={many: [s for s in getattr(self, many) if s.name != name]
                                       for many in SINGULAR.values()})

    def to_json(self) -> dict:
        """The request as JSON-ready data (parses back to an equal request)."""
        return self.model_dump(mode="json")


def parse_request(data: Any) -> DayRequest:
    """Validate a JSON-like dict and build a :class:`DayRequest`; a one-line RequestError otherwise."""
    return parse_record(DayRequest, data)


def parse_record(model: type[R], data: Any) -> R:
    """``data`` validated as ``model`` (a JSON object); a one-line RequestError naming the field otherwise."""
    if not isinstance(data, dict):
        raise RequestError(f"request: expected a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        loc = tuple(error.get("loc", ()))
        for one, many in SINGULAR.items():  # name the field as the caller wrote it: battery.x, not batteries[0].x
            if model is DayRequest and one in data and loc[:2] == (many, 0):
                error = {**error, "loc": (one, *loc[2:])}
        raise RequestError(error_line(error)) from None


def request_error(exc: ValidationError, skip: int = 0) -> RequestError:
    """The first error of a pydantic validation as one line naming the field (``skip`` leading loc parts)."""
    return RequestError(error_line(exc.errors(include_url=False)[0], skip))


def error_line(error: dict, skip: int = 0) -> str:
    """One pydantic error of a request as ``field=value: what is wrong`` (device-kind tags left out of the path)."""
    return one_line(error, skip, tags=(*DEVICE_KINDS, "full", "short"), choices=tuple(DEVICE_KINDS))
