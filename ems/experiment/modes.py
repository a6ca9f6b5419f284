"""Scheduling modes: how a day's flexible jobs are placed.

Each mode has ``name`` and ``plan(problem, request, context) -> DayResult``:
``request`` is the day's problem priced and forecast for planning; ``context``
holds the run's instantiated parts (solver, prior, ...). Every plan returned
has passed the independent validator.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from ems.agents.flexible import FlexibleDeviceAgent, InfeasibleDevice
from ems.agents.optimizer import GlobalOptimizer
from ems.experiment.problem import DayProblem
from ems.learning.priors import DAY_TYPES, informative
from ems.optim.optimize import optimize_day
from ems.optim.request import DayRequest, DiscretePhaseDevice
from ems.optim.result import DayResult, DeviceSchedule, energy_cost_eur
from ems.optim.rules import rule_based_schedule
from ems.optim.validate import validate


@dataclass
class Baseline:
    """What actually happened: the metered jobs at their metered hours, no battery."""

    name: str = "baseline"
    uses_battery = False

    def plan(self, problem: DayProblem, request: DayRequest, context: dict[str, Any]) -> DayResult:
        request = copy.copy(request)
        request.battery = None
        devices = {}
        for d in request.devices:
            power = problem.baseline_kw[d.name]
            starts = [int(np.flatnonzero(power)[0])] if isinstance(d, DiscretePhaseDevice) else None
            devices[d.name] = DeviceSchedule(power.tolist(), starts)
        load = np.asarray(request.base_load_kw) + sum((s.power_kw for s in devices.values()), np.zeros(request.n_steps))
        net = load - np.asarray(request.pv_kw)
        result = _priced(request, devices, np.maximum(net, 0), np.maximum(-net, 0), "baseline")
        validate(request, result)
        return result


@dataclass
class RuleBased:
    """Cheapest window outside the dearest quarter per cycle; battery by price quartiles."""

    name: str = "rule_based"
    uses_battery = True

    def plan(self, problem: DayProblem, request: DayRequest, context: dict[str, Any]) -> DayResult:
        return rule_based_schedule(request)


@dataclass
class Decentralized:
    """Each device optimises alone against the price (FlexibleDeviceAgent); then the
    battery optimises against the resulting house load; the grid takes the sum."""

    name: str = "decentralized"
    uses_battery = True

    def plan(self, problem: DayProblem, request: DayRequest, context: dict[str, Any]) -> DayResult:
        solver = context["solver"]
        devices = {}
        try:
            for d in request.devices:
                agent = FlexibleDeviceAgent(d, solver)
                devices[d.name] = agent.optimize_day(request.import_price_eur_kwh, request.step_hours, request.theta)
        except InfeasibleDevice as exc:
            return DayResult(status="infeasible", diagnosis=[str(exc)], solver=solver.name)
        fixed = copy.copy(request)
        fixed.devices = []
        fixed.base_load_kw = (np.asarray(request.base_load_kw)
                              + sum((np.asarray(s.power_kw) for s in devices.values()), np.zeros(request.n_steps))).tolist()
        rest = optimize_day(fixed, solver)
        if not rest.ok:
            return rest
        rest.devices = devices
        validate(request, rest)
        return rest


@dataclass
class Centralized:
    """The deterministic MILP over every job, the battery and the grid (no preferences)."""

    name: str = "centralized"
    uses_battery = True

    def plan(self, problem: DayProblem, request: DayRequest, context: dict[str, Any]) -> DayResult:
        return GlobalOptimizer(context["solver"]).optimize(request)


@dataclass
class Phases:
    """The MILP with preferences: each job may only run in hours its device's PMF rates
    >= theta, and ``w_prob * (1 - P[start])`` (EUR per start; per kWh for partial usage)
    steers placement. PMFs come from the learner when one is configured, else from the prior."""

    w_prob: float = 0.01
    theta: float = 0.05
    name: str = "phases"
    uses_battery = True

    def __post_init__(self) -> None:
        if self.w_prob < 0 or not 0 <= self.theta <= 1:
            raise ValueError(f"mode.w_prob={self.w_prob} must be >= 0 and mode.theta={self.theta} in [0, 1]")

    def plan(self, problem: DayProblem, request: DayRequest, context: dict[str, Any]) -> DayResult:
        pmfs = context.get("learner") or context["prior"]
        request = with_preferences(problem, request, pmfs, self.theta, self.w_prob)
        return GlobalOptimizer(context["solver"]).optimize(request)


def day_type(problem: DayProblem) -> str:
    return DAY_TYPES[1] if problem.day.day.isoweekday() >= 6 else DAY_TYPES[0]


def day_pmf(source, device: str, problem: DayProblem) -> np.ndarray:
    """The 24-hour PMF ``source`` gives ``device`` for the problem's day (day-specific when it can)."""
    if hasattr(source, "pmf_for_day"):
        return np.asarray(source.pmf_for_day(device, problem.day.day))
    return np.asarray(source.pmf(device, day_type(problem)))


def with_preferences(problem: DayProblem, request: DayRequest, prior, theta: float, w_prob: float) -> DayRequest:
    """A copy of ``request`` whose jobs carry their device's PMF (per step, by local hour).

    A PMF with no hour reaching ``theta`` (e.g. the uniform 1/24 < 0.05) says
    nothing about when the device runs: it excludes no hour and adds no penalty.
    """
    hours = problem.day.hours["local_hour"].to_numpy()
    request = copy.deepcopy(request)
    request.theta = theta
    for d in request.devices:
        pmf = informative(day_pmf(prior, problem.device_of[d.name], problem), theta)
        if pmf is None:
            continue
        d.pmf = pmf[hours].tolist()
        d.preference_weight = w_prob
    return request


def _priced(request: DayRequest, devices: dict, imp: np.ndarray, exp: np.ndarray, solver: str) -> DayResult:
    cost = energy_cost_eur(imp, exp, request.import_price_eur_kwh, request.export_price_eur_kwh, request.step_hours)
    return DayResult(status="feasible", energy_cost_eur=cost, objective_eur=cost, degradation_eur=0.0, penalty_eur=0.0,
                     import_kw=imp.tolist(), export_kw=exp.tolist(), pv_curtailed_kw=[0.0] * request.n_steps,
                     devices=devices, solver=solver)
