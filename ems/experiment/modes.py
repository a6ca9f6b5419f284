"""Scheduling modes: how a day's flexible jobs are placed (each implements the ``Mode`` protocol).

``plan(problem, request, experiment) -> DayResult``: ``request`` is the day's
problem priced and forecast for planning (from the house's GlobalOptimizer);
``experiment`` holds the run's typed parts (solver, PMF source, ...). Every
plan returned has passed the independent validator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ems.agents.flexible import FlexibleDeviceAgent, InfeasibleDevice
from ems.experiment.problem import DayProblem
from ems.optim.heuristics import SeedRules, seed_heuristic_schedule
from ems.optim.kinds import EV, device_kind
from ems.optim.optimize import optimize_day, price
from ems.optim.request import DayRequest, Grid
from ems.optim.result import DayResult
from ems.optim.rules import rule_based_schedule
from ems.optim.validate import validate
from ems.planning.preferences import with_preferences

if TYPE_CHECKING:
    from ems.experiment.protocols import Experiment


@dataclass
class Baseline:
    """What actually happened: the metered jobs and EV charging at their metered hours, no battery."""

    name: str = "baseline"
    uses_battery: bool = False
    plans_ahead: bool = False  # the metered day: a longer horizon changes nothing

    def plan(self, problem: DayProblem, request: DayRequest, experiment: "Experiment | None" = None) -> DayResult:
        request = request.model_copy(update={"batteries": []})
        n, needs = request.n_steps, problem.needs
        result = DayResult(status="feasible", solver="baseline", pv_curtailed_kw=[0.0] * n)
        for d in request.devices:
            result.devices[d.name] = device_kind(d.flex_model).from_power(d, needs.baseline_kw[d.name])
        load = np.asarray(request.base_load_kw) + sum((np.asarray(s.power_kw) for s in result.devices.values()),
                                                      np.zeros(n))
        for ev in request.evs:  # each car charged as its meter saw it
            result.storages[ev.name] = EV.from_charge(ev, needs.ev_baseline_kw[ev.name], request.step_hours)
            load = load + needs.ev_baseline_kw[ev.name]
        net = load - np.asarray(request.pv_kw)
        result.import_kw, result.export_kw = np.maximum(net, 0).tolist(), np.maximum(-net, 0).tolist()
        price(request, result)
        result.penalty_eur = 0.0
        result.add_up()
        validate(request, result)
        return result

    def prepare(self, problem: DayProblem, request: DayRequest, experiment: "Experiment") -> None:
        """Not one MILP: not re-planned inside the day."""
        return None


@dataclass
class RuleBased:
    """Cheapest window outside the dearest quarter per cycle; the battery by price quartiles alone (it
    ignores PV: a simple price rule, not the seed's strategy, which is :class:`SeedHeuristic`)."""

    name: str = "rule_based"
    uses_battery: bool = True
    plans_ahead: bool = True

    def plan(self, problem: DayProblem, request: DayRequest, experiment: "Experiment") -> DayResult:
        return rule_based_schedule(request)

    def prepare(self, problem: DayProblem, request: DayRequest, experiment: "Experiment") -> None:
        """Not one MILP: not re-planned inside the day."""
        return None


@dataclass
class SeedHeuristic:
    """The seed system's own heuristics (ems.optim.heuristics): the EV by its three phases, the battery by
    its priorities (PV surplus, dear hours, arbitrage), devices as the rule-based scheduler places them."""

    opportunity_quantile: float = 0.25
    opportunity_share: float = 0.5
    critical_frac: float = 0.95
    late_quantile: float = 0.10
    arbitrage_quantile: float = 0.25
    name: str = "seed_heuristic"
    uses_battery: bool = True
    plans_ahead: bool = True

    def __post_init__(self) -> None:
        self.rules = SeedRules(self.opportunity_quantile, self.opportunity_share, self.critical_frac,
                               self.late_quantile, self.arbitrage_quantile)

    def plan(self, problem: DayProblem, request: DayRequest, experiment: "Experiment") -> DayResult:
        return seed_heuristic_schedule(request, self.rules)

    def prepare(self, problem: DayProblem, request: DayRequest, experiment: "Experiment") -> None:
        """Not one MILP: not re-planned inside the day."""
        return None


@dataclass
class Decentralized:
    """Each device optimises alone against the price (FlexibleDeviceAgent), the EV alone in its sessions;
    then the battery optimises against the resulting house load; the grid takes the sum."""

    name: str = "decentralized"
    uses_battery: bool = True
    plans_ahead: bool = True

    def plan(self, problem: DayProblem, request: DayRequest, experiment: "Experiment") -> DayResult:
        solver = experiment.solver
        devices = {}
        try:
            for d in request.devices:
                agent = FlexibleDeviceAgent(d, solver)
                devices[d.name] = agent.optimize_day(request.import_price_eur_kwh, request.step_hours, request.theta)
        except InfeasibleDevice as exc:
            return DayResult(status="infeasible", diagnosis=[str(exc)], solver=solver.name)
        evs = {}
        for car in request.evs:  # each car alone, on its own charger
            alone = DayRequest(step_hours=request.step_hours, import_price_eur_kwh=request.import_price_eur_kwh,
                               grid=Grid(max_import_kw=car.max_charge_kw, max_export_kw=0.0), evs=[car])
            ev_plan = optimize_day(alone, solver)
            if not ev_plan.ok:
                return ev_plan
            evs[car.name] = ev_plan.storages[car.name]
        fixed_kw = sum((np.asarray(s.power_kw) for s in devices.values()), np.zeros(request.n_steps))
        fixed_kw = fixed_kw + sum((np.asarray(s.charge_kw) for s in evs.values()), np.zeros(request.n_steps))
        rest = optimize_day(request.model_copy(update={
            "devices": [], "evs": [], "base_load_kw": (np.asarray(request.base_load_kw) + fixed_kw).tolist()}),
            solver)
        if not rest.ok:
            return rest
        rest.devices, rest.storages = devices, rest.storages | evs
        validate(request, rest)
        return rest

    def prepare(self, problem: DayProblem, request: DayRequest, experiment: "Experiment") -> None:
        """Not one MILP: not re-planned inside the day."""
        return None


@dataclass
class Centralized:
    """The MILP over every job, the EV, the battery and the grid (no preferences), on the point
    forecast or on scenarios of it (``planning``)."""

    name: str = "centralized"
    uses_battery: bool = True
    plans_ahead: bool = True

    def plan(self, problem: DayProblem, request: DayRequest, experiment: "Experiment") -> DayResult:
        return experiment.solve(request)

    def prepare(self, problem: DayProblem, request: DayRequest, experiment: "Experiment") -> DayRequest:
        return request


@dataclass
class Phases:
    """The MILP with preferences: each job may only run in hours its device's PMF rates
    >= theta, and ``w_prob * (1 - P[start])`` (EUR per start; per kWh for partial usage)
    steers placement. PMFs come from the learner when one is configured, else from the prior."""

    w_prob: float = 0.01
    theta: float = 0.05
    name: str = "phases"
    uses_battery: bool = True
    plans_ahead: bool = True

    def __post_init__(self) -> None:
        if self.w_prob < 0 or not 0 <= self.theta <= 1:
            raise ValueError(f"mode.w_prob={self.w_prob} must be >= 0 and mode.theta={self.theta} in [0, 1]")

    def plan(self, problem: DayProblem, request: DayRequest, experiment: "Experiment") -> DayResult:
        return experiment.solve(self.prepare(problem, request, experiment))

    def prepare(self, problem: DayProblem, request: DayRequest, experiment: "Experiment") -> DayRequest:
        """``request`` with the day's PMFs, the allowed hours and the penalty of each job."""
        return with_preferences(request, problem.device_of, problem.day.day, problem.needs.local_hours,
                                experiment.pmfs, self.theta, self.w_prob)


__all__ = ["Baseline", "Centralized", "Decentralized", "Phases", "RuleBased"]
