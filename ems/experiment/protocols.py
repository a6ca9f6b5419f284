"""The typed parts of an experiment and the protocols the runner talks to.

The runner instantiates every config group from its ``_target_`` and checks
that each object implements its protocol; it never reads an untyped dict of
parts or sniffs attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import polars as pl
from omegaconf import DictConfig, OmegaConf

from ems.agents.battery import BatteryAgent
from ems.agents.ev import EVAgent
from ems.agents.optimizer import GlobalOptimizer
from ems.building import Building
from ems.config import instantiate
from ems.agents.fleet import agents, check_fleet
from ems.learning.priors import PmfSource
from ems.optim.request import DayRequest
from ems.optim.result import DayResult
from ems.optim.solver import SolverSpec
from ems.planning.horizon import Horizon
from ems.planning.heating import Heating
from ems.planning.needs import ReplaySettings

if TYPE_CHECKING:
    from ems.experiment.problem import DayProblem


@runtime_checkable
class Mode(Protocol):
    """How a day's jobs are placed. ``uses_battery``: the plan may use the home battery.
    ``plans_ahead``: the mode plans the configured horizon (else the day alone). A mode whose
    ``prepare`` gives its MILP request is re-planned inside the day with ``horizon.replan_hours``."""

    name: str
    uses_battery: bool
    plans_ahead: bool

    def plan(self, problem: "DayProblem", request: DayRequest, experiment: "Experiment") -> DayResult: ...

    def prepare(self, problem: "DayProblem", request: DayRequest, experiment: "Experiment") -> DayRequest | None:
        """The one MILP request ``plan`` solves (what re-planning inside the day plans again);
        None for a mode that does not plan by one MILP."""


@runtime_checkable
class Forecast(Protocol):
    """Base load and PV (kW per step) the plan assumes; None: no forecast yet (the day is skipped).

    ``hours`` is the day's hour table (utc_hour, local_date, local_hour). With
    ``needs_history`` the runner first hands it the valid days before the period
    (``prepare``: utc_hour, base_kw, pv_kw, posed as the replay poses a day) and
    the weather; each replayed day is ``observe``d after it is planned.
    """

    name: str
    needs_history: bool

    def prepare(self, history: pl.DataFrame, weather: pl.DataFrame | None) -> None: ...

    def predict(self, hours: pl.DataFrame, actual_base: np.ndarray, actual_pv: np.ndarray) -> Any: ...

    def observe(self, hours: pl.DataFrame, base: np.ndarray, pv: np.ndarray) -> None: ...


@runtime_checkable
class Learner(PmfSource, Protocol):
    """Learns PMFs in the day loop: trained before the period, updated after each day."""

    def prepare(self, store: Any, building: Building, first: date, last: date) -> None: ...

    def after_day(self, day: date) -> None: ...

    def finish(self, out_dir: Path) -> list[Path]: ...

    def metrics(self) -> dict[str, float]: ...


@runtime_checkable
class Planning(Protocol):
    """How the MILP modes (centralized, phases) plan a step: on the point forecast
    (deterministic) or on scenarios of it (``ems.planning.scenarios``). The replay hands it each
    planning step's forecast (``draw``) before the mode plans, and the day's actual values after
    (``observe``)."""

    name: str

    def draw(self, predicted: Any, day: date, steps: int) -> Any: ...

    def observe(self, predicted: Any, actual_base: np.ndarray, actual_pv: np.ndarray) -> None: ...

    def solve(self, request: DayRequest, settings: SolverSpec) -> DayResult: ...


@runtime_checkable
class Tariff(Protocol):
    """Import and export prices (EUR/kWh) per hour of an hour table, and the demand charge (EUR per kW of
    a month's peak import; 0: none)."""

    feed_in_eur_kwh: float
    demand_eur_kw_month: float

    def import_price(self, hours: pl.DataFrame) -> np.ndarray: ...

    def export_price(self, hours: pl.DataFrame) -> np.ndarray: ...


#: config group -> (protocol or class the object must implement, whether the group may be absent)
PARTS: dict[str, tuple[type, bool]] = {
    "building": (Building, False), "mode": (Mode, False), "tariff": (Tariff, False), "prior": (PmfSource, False),
    "solver": (SolverSpec, False), "forecast": (Forecast, False), "replay": (ReplaySettings, False),
    "battery": (BatteryAgent, True), "ev": (EVAgent, True), "learner": (Learner, True),
    "horizon": (Horizon, False), "planning": (Planning, False), "heating": (Heating, True),
}


#: The single battery / EV groups and the lists of agents they become (ems.experiment.fleet).
FLEET = {"battery": "batteries", "ev": "evs"}


def _plain(node: Any) -> Any:
    """A config group's resolved content (None for an absent optional group)."""
    return OmegaConf.to_container(node, resolve=True) if node is not None else None


@dataclass
class Experiment:
    """The instantiated parts of one run (one per config group) and the top-level ``theta``."""

    building: Building
    mode: Mode
    tariff: Tariff
    prior: PmfSource
    solver: SolverSpec
    forecast: Forecast
    replay: ReplaySettings
    #: The house's batteries and EVs (``battery=`` / ``ev=`` or the ``batteries`` / ``evs`` lists; see
    #: ems.experiment.fleet), each with its own name and state.
    batteries: list[BatteryAgent]
    evs: list[EVAgent]
    learner: Learner | None
    horizon: Horizon
    planning: Planning
    heating: Heating | None
    theta: float

    @classmethod
    def from_config(cls, cfg: DictConfig, like: tuple["Experiment", DictConfig] | None = None) -> "Experiment":
        """Instantiate every group; a part that does not implement its protocol is a one-line error.

        ``like`` = (experiment, its config): groups configured exactly as there reuse its
        parts instead of building them again (e.g. a learned prior reads the store once).
        """
        parts = {}
        for group, (protocol, optional) in PARTS.items():
            if like is not None and _plain(cfg.get(group)) == _plain(like[1].get(group)) and group not in FLEET:
                parts[group] = getattr(like[0], group)
                continue
            obj = instantiate(cfg.get(group), where=group)
            if obj is None and optional:
                parts[group] = None
                continue
            if obj is None or not isinstance(obj, protocol):
                raise ValueError(f"{group}: {type(obj).__name__} does not implement {protocol.__name__} "
                                 f"(check {group}._target_)")
            parts[group] = obj
        for group, many in FLEET.items():
            parts[many] = agents(cfg, many, parts.pop(group))
        check_fleet(parts["batteries"], parts["evs"], parts["building"])
        return cls(**parts, theta=float(cfg.theta))

    @property
    def pmfs(self) -> PmfSource:
        """Where the day's PMFs come from: the learner when one is configured, else the prior."""
        return self.learner if self.learner is not None else self.prior

    def solve(self, request: DayRequest) -> DayResult:
        """A MILP mode's plan of ``request`` by the configured planning (deterministic or scenarios)."""
        return self.planning.solve(request, self.solver)

    def optimizer(self) -> GlobalOptimizer:
        """The coordinator over this house's agents (the batteries only if the mode uses them)."""
        batteries = self.batteries if self.mode.uses_battery else []
        return GlobalOptimizer(self.building.grid, self.solver, batteries, self.evs, theta=self.theta)
