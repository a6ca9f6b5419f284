"""The day-ahead MILP, driven by the kind registry (as PyPSA drives ``create_model`` from its component table).

The grid and every part of the request (each device by its ``flex_model``,
the battery, the EV) add their variables and constraints to one
:class:`Model` through their kind's ``define``, put their power into the
per-step balance (``+`` = consumption) and their cost into the objective.
Powers are kW, energies kWh (power x ``step_hours``), prices EUR/kWh.
Balance at every step t::

    import - export + pv - curtailed = base + devices + battery charge - discharge + ev charge - ev discharge
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pulp

from ems.optim.kinds import STORAGE_KINDS, device_kind, grid
from ems.optim.kinds.base import DeviceKind, StorageKind
from ems.optim.request import DayRequest

Terms = list[tuple[pulp.LpVariable, float]]


@dataclass
class Model:
    """A PuLP problem plus the bookkeeping the kinds' ``define`` share."""

    request: DayRequest
    prob: pulp.LpProblem = field(default_factory=lambda: pulp.LpProblem("ems_day", pulp.LpMinimize))
    load: dict[int, Terms] = field(default_factory=lambda: defaultdict(list))
    energy_cost: Terms = field(default_factory=list)
    degradation: Terms = field(default_factory=list)
    penalty: Terms = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.request.n_steps

    @property
    def dt(self) -> float:
        return self.request.step_hours

    def var(self, name: str, low: float = 0.0, up: float | None = None, binary: bool = False) -> pulp.LpVariable:
        return pulp.LpVariable(name, lowBound=0 if binary else low, upBound=1 if binary else up,
                               cat=pulp.LpBinary if binary else pulp.LpContinuous)

    def add(self, terms: Terms, sense: int, rhs: float, name: str) -> None:
        self.prob += pulp.LpConstraint(pulp.LpAffineExpression(terms), sense, name=name, rhs=rhs)


def parts(request: DayRequest) -> Iterator[tuple[DeviceKind | StorageKind, Any]]:
    """(kind, spec) of every flexible part of the request: devices, then the storages."""
    for device in request.devices:
        yield device_kind(device.flex_model), device
    for key, spec in request.storages():
        yield STORAGE_KINDS[key], spec


def define_balance(m: Model) -> None:
    """Energy balance at every step: import - export + pv - curtailed = every load."""
    r = m.request
    for t in range(m.n):
        m.add([(v, -c) for v, c in m.load[t]], pulp.LpConstraintEQ, r.base_load_kw[t] - r.pv_kw[t], f"balance_{t}")


def define_objective(m: Model) -> None:
    """Energy cost + degradation + preference penalty (EUR)."""
    m.prob.setObjective(pulp.LpAffineExpression(m.energy_cost + m.degradation + m.penalty))


def build_model(request: DayRequest) -> Model:
    """The full MILP for ``request``."""
    m = Model(request)
    grid.define(m)
    for kind, spec in parts(request):
        kind.define(m, spec)
    define_balance(m)
    define_objective(m)
    return m
