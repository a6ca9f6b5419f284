"""What every device kind shares: the strict record base of the request schema, its
field types, and the :class:`DeviceKind` and :class:`StorageKind` protocols the kind modules implement.

A request record rejects unknown keys (naming the key and the nearest known
one), bools where numbers are expected, non-finite numbers and numbers beyond the bounds below. Units are in
the field names: kW, kWh, EUR/kWh; times are steps of the horizon.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Protocol

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from ems.optim.milp import Model
    from ems.optim.result import DayResult, DeviceSchedule, StorageSchedule
    from ems.optim.request import DayRequest


class Record(BaseModel):
    """A strict request record: unknown keys are refused with the key named."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=False, arbitrary_types_allowed=True)
    #: What the error message calls this record.
    label: ClassVar[str] = "record"

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        return cls.check_keys(data)

    @classmethod
    def check_keys(cls, data: Any) -> Any:
        """``data`` unchanged; a ValueError naming the first unknown key."""
        if isinstance(data, dict):
            known = [name for name in cls.model_fields]
            for key in data:
                if key not in known:
                    near = difflib.get_close_matches(str(key), known, n=1)
                    hint = f"did you mean {near[0]}?" if near else f"{cls.label} fields: {', '.join(known)}"
                    raise ValueError(f"{key}: unknown key of the {cls.label} ({hint})")
        return data


def _efficiency(value: float) -> float:
    if not 0 < value <= 1:
        raise ValueError("an efficiency must be in (0, 1]")
    return value


#: Bounds of every number in a request, so that each one is a finite float the solvers take as given
#: (HiGHS reads |x| >= 1e20 as infinite): prices in EUR/kWh (the EU day-ahead market clears within
#: -0.5..4 EUR/kWh), powers in kW and energies in kWh (far above any building or community), step indices.
MAX_PRICE_EUR_KWH = 1e3
MAX_QUANTITY = 1e5
MAX_STEP_INDEX = 10**6

Number = Annotated[float, Field(ge=-MAX_PRICE_EUR_KWH, le=MAX_PRICE_EUR_KWH, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, le=MAX_QUANTITY, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, le=MAX_QUANTITY, allow_inf_nan=False)]
Efficiency = Annotated[float, Field(allow_inf_nan=False), AfterValidator(_efficiency)]
Step = Annotated[int, Field(ge=0, le=MAX_STEP_INDEX)]
Name = Annotated[str, Field(min_length=1)]


class DeviceRecord(Record):
    """What every device record has: its name, its window [earliest_start, latest_end) in steps
    (null latest_end: the horizon's end), and an optional usage PMF (one value per step) with the
    weight of its preference penalty. Each kind adds its ``flex_model`` and its own fields."""

    #: Fields holding one value per step of the horizon (the request checks their length).
    per_step: ClassVar[tuple[str, ...]] = ()
    name: Name
    earliest_start: Step = 0
    latest_end: Step | None = None
    pmf: list[NonNegative] | None = None
    preference_weight: NonNegative = 0.0


class DeviceKind(Protocol):
    """A device kind (``key`` = its ``flex_model``): owns its record and everything the model,
    the rules, the baseline and the checks do with a device of that kind."""

    key: str
    spec: type[DeviceRecord]
    #: A meter's day is posed as this kind's job directly (``ems.planning.needs``); False: another part
    #: builds it (the thermal heat pump, from a partial_usage meter and ``heating``).
    metered: bool

    def define(self, m: "Model", spec: Any) -> None:
        """Add the device's columns and rows, its power to the balance, its penalty to the objective."""

    def extract(self, m: "Model", x: np.ndarray, spec: Any, result: "DayResult") -> None:
        """Read the solution ``x`` (one value per column) into ``result.devices``."""

    def precheck(self, r: "DayRequest", spec: Any) -> list[str]:
        """Obvious infeasibilities found without a solver, each naming the device and the constraint."""

    def rule_schedule(self, r: "DayRequest", spec: Any, price: np.ndarray, net_kw: np.ndarray,
                      result: "DayResult") -> str | None:
        """The rule-based schedule written into ``result``; a problem text when the rules cannot meet it."""

    def penalty_eur(self, r: "DayRequest", spec: Any, schedule: "DeviceSchedule") -> float:
        """The preference penalty (EUR) of ``schedule``."""

    def from_power(self, spec: Any, power: np.ndarray) -> "DeviceSchedule":
        """The schedule of a metered power profile (kW per step)."""

    def peak_kw(self, spec: Any) -> float:
        """The most the device can draw in one step (kW)."""

    def remainder(self, spec: Any, schedule: "DeviceSchedule", t0: int, step_hours: float
                  ) -> tuple[Any | None, np.ndarray]:
        """What is left to decide at step ``t0`` of a plan that followed ``schedule`` so far: the record
        over the steps from ``t0`` on (renumbered from 0; None: nothing left to decide) and the power
        (kW per step from ``t0``) already committed, e.g. a cycle running on."""

    def placed(self, spec: Any, offset: int, n_steps: int) -> Any:
        """The record as a device of a longer horizon of ``n_steps`` whose own steps start at ``offset``
        (it may run only there; a PMF is 0 elsewhere): the multi-day bound and the receding horizon."""


class StorageKind(Protocol):
    """A storage part of the request (``key`` = ``battery`` or ``ev``). ``follows_load``: the rules
    place it against the house load of everything else (the battery), not before it (the EV)."""

    key: str
    spec: type[Record]
    follows_load: bool

    def define(self, m: "Model", spec: Any) -> None:
        """Add the storage's columns and rows, its power to the balance, its wear to the objective."""

    def extract(self, m: "Model", x: np.ndarray, spec: Any, result: "DayResult") -> None:
        """Read the solution ``x`` (one value per column) into ``result.<key>``."""

    def precheck(self, r: "DayRequest", spec: Any) -> list[str]:
        """Obvious infeasibilities found without a solver."""

    def rule_schedule(self, r: "DayRequest", spec: Any, price: np.ndarray, net_kw: np.ndarray,
                      result: "DayResult") -> None:
        """The rule-based schedule against the house's net load ``net_kw`` (kW), written into ``result``."""

    def degradation_eur(self, r: "DayRequest", spec: Any, schedule: "StorageSchedule") -> float:
        """Wear cost (EUR) of ``schedule``."""

    def remainder(self, spec: Any, schedule: "StorageSchedule", t0: int) -> Any | None:
        """The storage over the steps from ``t0`` on (renumbered from 0), starting from the SOC
        ``schedule`` reached at ``t0``; None when nothing of it is left."""


def kwh_penalty_eur(r: "DayRequest", spec: DeviceRecord, power_kw: Any) -> float:
    """The preference penalty of an energy-delivering device (EUR): ``preference_weight * (1 - P[t])`` per kWh
    delivered in step t; 0 without a PMF or a weight."""
    if spec.pmf is None or not spec.preference_weight:
        return 0.0
    return spec.preference_weight * r.step_hours * float(np.dot(1.0 - np.asarray(spec.pmf), power_kw))


def place_window(spec: DeviceRecord, offset: int, n_steps: int) -> Any:
    """``spec`` with its window moved ``offset`` steps later and its PMF (if any) padded with 0 to ``n_steps``."""
    update: dict[str, Any] = {"earliest_start": spec.earliest_start + offset, "latest_end": spec.latest_end + offset}
    if spec.pmf is not None:
        update["pmf"] = [0.0] * offset + list(spec.pmf) + [0.0] * (n_steps - offset - len(spec.pmf))
    return spec.model_copy(update=update)


def allowed_steps(pmf: list[float] | None, theta: float, earliest: int, latest: int, length: int = 1) -> list[int]:
    """Start steps k in [earliest, latest - length] whose whole run [k, k+length) has P >= theta.

    Without a PMF every start whose run fits in the window is allowed.
    """
    starts = np.arange(earliest, latest - length + 1)
    if pmf is None or len(starts) == 0:
        return starts.tolist()
    ok = np.asarray(pmf) >= theta
    window_ok = np.convolve(ok.astype(int), np.ones(length, dtype=int), mode="valid") == length
    return [int(k) for k in starts if window_ok[k]]
