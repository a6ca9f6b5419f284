"""The result of one day's optimisation, with its JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np


def energy_cost_eur(import_kw, export_kw, import_price, export_price, step_hours: float = 1.0) -> float:
    """Import cost minus export revenue (EUR): kW per step x step hours x EUR/kWh."""
    return float(step_hours * (np.dot(import_kw, import_price) - np.dot(export_kw, export_price)))


@dataclass
class DeviceSchedule:
    """Per-step power (kW) of one flexible device; ``starts`` for discrete-phase devices."""

    power_kw: list[float]
    starts: list[int] | None = None


@dataclass
class StorageSchedule:
    """Grid-side charge/discharge power (kW) per step and SOC (kWh) at each step boundary (n + 1 values)."""

    charge_kw: list[float]
    soc_kwh: list[float]
    discharge_kw: list[float] | None = None


@dataclass
class DayResult:
    """A checked schedule (status ``optimal`` or ``feasible``) or a diagnosis.

    ``energy_cost_eur`` is import cost minus export revenue; ``objective_eur``
    adds battery degradation, the preference penalty and the demand charge.
    """

    status: str
    energy_cost_eur: float | None = None
    objective_eur: float | None = None
    degradation_eur: float | None = None
    penalty_eur: float | None = None
    #: Demand charge of the horizon's new peak: ``demand_charge.eur_per_kw`` x (peak import - the peak
    #: so far, when above it), EUR; 0 without a demand charge.
    demand_eur: float | None = None
    import_kw: list[float] = field(default_factory=list)
    export_kw: list[float] = field(default_factory=list)
    pv_curtailed_kw: list[float] = field(default_factory=list)
    devices: dict[str, DeviceSchedule] = field(default_factory=dict)
    #: Each battery's and EV's schedule, by its name in the request (``battery`` / ``ev`` unless named).
    storages: dict[str, StorageSchedule] = field(default_factory=dict)
    diagnosis: list[str] = field(default_factory=list)
    #: What validation changed in the request (e.g. a normalised pmf), one line each.
    warnings: list[str] = field(default_factory=list)
    solver: str = ""
    #: Which formulation proved the optimum: ``lp`` (the LP relaxation was integral), ``milp``
    #: (direction binaries only where needed) or ``milp_full`` (every direction binary); see ems.optim.optimize.
    path: str = ""
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    n_variables: int = 0
    n_constraints: int = 0

    def storage(self, name: str) -> StorageSchedule | None:
        """The schedule of the battery or EV called ``name`` (None: not in the result)."""
        return self.storages.get(name)

    def add_up(self) -> None:
        """``objective_eur`` = energy cost + degradation + preference penalty + demand charge (EUR)."""
        self.objective_eur = sum(v or 0.0 for v in (self.energy_cost_eur, self.degradation_eur, self.penalty_eur,
                                                    self.demand_eur))

    @property
    def ok(self) -> bool:
        return self.status in ("optimal", "feasible")

    @classmethod
    def from_dict(cls, data: dict) -> "DayResult":
        """The inverse of :meth:`to_dict` (e.g. for validating a schedule received as JSON)."""
        data = dict(data)
        data["devices"] = {k: DeviceSchedule(**v) for k, v in data.get("devices", {}).items()}
        data["storages"] = {k: StorageSchedule(**v) for k, v in (data.get("storages") or {}).items()}
        return cls(**data)

    def to_dict(self) -> dict:
        """JSON-ready dict; absent parts (no battery, no starts) are left out."""
        out = _plain(self)
        out["devices"] = {name: _plain(s) for name, s in self.devices.items()}
        out["storages"] = {name: _plain(s) for name, s in self.storages.items()}
        return out


def _plain(record) -> dict:
    """A dataclass's fields as a dict, None left out, lists copied (shallow, without asdict's deep copy)."""
    out = {}
    for f in fields(record):
        value = getattr(record, f.name)
        if value is not None:
            out[f.name] = list(value) if isinstance(value, list) else value
    return out
