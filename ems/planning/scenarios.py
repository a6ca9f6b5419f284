"""Planning against one forecast (``planning=deterministic``) or against scenarios of it (``stochastic``).

The stochastic planner (the seed's section 3.4.5) draws ``n_scenarios``
possible base loads and PVs of the planned horizon and hands them to the
two-stage MILP (:mod:`ems.optim.scenarios`): appliance starts shared by all
scenarios, battery/EV/grid per scenario, expected cost (optionally with CVaR)
minimised. Scenarios come from

* ``quantiles``: the forecaster's quantiles (P10/P50/P90 of ``forecast=ml``),
  through a Gaussian copula whose hour-to-hour correlation is ``correlation``
  (an AR(1) of the normal scores: forecast errors persist over hours); the
  quantile function is linear between the levels and extended linearly
  beyond the outer ones, cut at 0 kW;
* ``errors``: the forecast plus the error profile (actual - forecast, kW per
  step, from midnight) of a past replayed day drawn at random from the last
  ``history_days`` (a block bootstrap: each profile keeps its real shape over
  the day); until ``min_history_days`` days are seen the plan is deterministic;
* ``auto``: quantiles where the forecast has them, else errors.

Draws are seeded by ``seed`` and the day, so a run is reproducible. Perfect
foresight has no errors: every scenario is the forecast, and the plan is the
deterministic one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from scipy.stats import norm

from ems.checks import require_whole
from ems.optim.optimize import optimize_day
from ems.optim.request import DayRequest
from ems.optim.result import DayResult
from ems.optim.scenarios import Scenario, optimize_scenarios
from ems.optim.solver import SolverSpec

SOURCES = ("auto", "quantiles", "errors")


@dataclass
class Deterministic:
    """Plan on the point forecast alone (one MILP per planning step)."""

    name: str = "deterministic"

    def draw(self, predicted: Any, day: date, steps: int) -> None:
        """Nothing to draw."""

    def observe(self, predicted: Any, actual_base: np.ndarray, actual_pv: np.ndarray) -> None:
        """Nothing to learn."""

    def solve(self, request: DayRequest, settings: SolverSpec) -> DayResult:
        return optimize_day(request, settings)


@dataclass
class Stochastic:
    """Two-stage planning over ``n_scenarios`` scenarios (see the module docstring)."""

    n_scenarios: int = 5
    source: str = "auto"
    correlation: float = 0.9
    history_days: int = 28
    min_history_days: int = 7
    cvar_weight: float = 0.0
    cvar_alpha: float = 0.9
    seed: int = 0
    name: str = "stochastic"
    _errors: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list, repr=False)
    _scenarios: list[Scenario] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        require_whole("planning", self, "n_scenarios", "history_days", "min_history_days")
        if self.source not in SOURCES:
            raise ValueError(f"planning.source={self.source!r}: must be one of {', '.join(SOURCES)}")
        if not 0 <= self.correlation < 1:
            raise ValueError(f"planning.correlation={self.correlation!r} must be in [0, 1)")
        if not 0 <= self.cvar_weight <= 1 or not 0 <= self.cvar_alpha < 1:
            raise ValueError(f"planning.cvar_weight={self.cvar_weight!r} must be in [0, 1] and "
                             f"planning.cvar_alpha={self.cvar_alpha!r} in [0, 1)")

    def draw(self, predicted: Any, day: date, steps: int) -> list[Scenario] | None:
        """The scenarios of the ``steps``-step horizon planned on ``day`` (None: too little history
        for ``errors``; the next :meth:`solve` is then deterministic)."""
        rng = np.random.default_rng([self.seed, day.toordinal()])
        base, pv = np.asarray(predicted.base_kw[:steps], float), np.asarray(predicted.pv_kw[:steps], float)
        quantiles = bool(predicted.base_q) and bool(predicted.pv_q)
        if self.source == "quantiles" and not quantiles:
            raise ValueError("planning.source=quantiles: the forecast has no quantiles (forecast=ml has; "
                             "use planning.source=errors or auto)")
        if quantiles and self.source != "errors":
            draws = [(self._from_quantiles(predicted.base_q, steps, rng), self._from_quantiles(predicted.pv_q, steps,
                                                                                              rng))
                     for _ in range(self.n_scenarios)]
        elif len(self._errors) >= self.min_history_days:
            past = self._errors[-self.history_days:]
            draws = []
            for k in rng.integers(0, len(past), self.n_scenarios):
                base_err, pv_err = past[k]
                draws.append((base + _fit(base_err, steps), pv + _fit(pv_err, steps)))
        else:
            draws = None
        self._scenarios = None if draws is None else [
            Scenario(np.maximum(b, 0.0), np.maximum(p, 0.0), 1.0 / self.n_scenarios) for b, p in draws]
        return self._scenarios

    def _from_quantiles(self, levels: dict[float, np.ndarray], steps: int, rng: np.random.Generator) -> np.ndarray:
        """One path through the quantiles by local AR(1) normal scores (see the module docstring)."""
        z = np.empty(steps)
        z[0] = rng.standard_normal()
        shocks = rng.standard_normal(steps)
        for t in range(1, steps):
            z[t] = self.correlation * z[t - 1] + np.sqrt(1 - self.correlation ** 2) * shocks[t]
        u = norm.cdf(z)
        qs = np.array(sorted(levels))
        values = np.vstack([np.asarray(levels[q][:steps], float) for q in qs])  # level x step
        values = np.maximum.accumulate(values, axis=0)  # crossing quantiles: keep them ordered
        out = np.empty(steps)
        for t in range(steps):
            v = values[:, t]
            if u[t] <= qs[0] or u[t] >= qs[-1]:  # beyond the outer levels: the outer segment's slope
                i = 0 if u[t] <= qs[0] else len(qs) - 2
                slope = (v[i + 1] - v[i]) / (qs[i + 1] - qs[i]) if len(qs) > 1 else 0.0
                anchor = v[0] if u[t] <= qs[0] else v[-1]
                out[t] = anchor + slope * (u[t] - (qs[0] if u[t] <= qs[0] else qs[-1]))
            else:
                out[t] = np.interp(u[t], qs, v)
        return np.maximum(out, 0.0)

    def observe(self, predicted: Any, actual_base: np.ndarray, actual_pv: np.ndarray) -> None:
        """Keep the day's forecast errors (actual - forecast, kW per step of the day)."""
        n = len(actual_base)
        self._errors.append((np.asarray(actual_base, float) - np.asarray(predicted.base_kw[:n], float),
                             np.asarray(actual_pv, float) - np.asarray(predicted.pv_kw[:n], float)))
        del self._errors[:-self.history_days]

    def solve(self, request: DayRequest, settings: SolverSpec) -> DayResult:
        """The two-stage plan over the scenarios drawn for this planning step (deterministic
        without them, or when they do not cover the request's horizon)."""
        scenarios, self._scenarios = self._scenarios, None
        if not scenarios or len(scenarios[0].base_kw) != request.n_steps:
            return optimize_day(request, settings)
        return optimize_scenarios(request, scenarios, settings, self.cvar_weight, self.cvar_alpha)


def _fit(errors: np.ndarray, steps: int) -> np.ndarray:
    """A day's error profile over ``steps`` steps: cut, or continued from its start (a longer horizon
    repeats the day's shape from midnight)."""
    reps = int(np.ceil(steps / max(len(errors), 1)))
    return np.tile(errors, reps)[:steps] if len(errors) else np.zeros(steps)
