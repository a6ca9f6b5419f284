"""The rolling-horizon day loop for one mode: plan, settle, measure, carry state."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from tqdm import tqdm

from ems.experiment import kpis
from ems.experiment.days import DayData
from ems.experiment.modes import Baseline, day_pmf
from ems.experiment.problem import DayProblem, ReplaySettings, build_problem
from ems.experiment.settlement import Settled, settle
from ems.optim.request import DiscretePhaseDevice
from ems.optim.result import DayResult

log = logging.getLogger(__name__)


@dataclass
class ReplayOutcome:
    """Per-day records, per-step schedules and skip/infeasible reasons of one mode's replay."""

    mode: str
    daily: pl.DataFrame
    steps: pl.DataFrame
    skipped: dict[str, int] = field(default_factory=dict)
    infeasible: dict[str, str] = field(default_factory=dict)


def replay(days: list[DayData], parts: dict[str, Any], settings: ReplaySettings, max_kw: dict[str, float],
           theta: float, progress: bool = True) -> ReplayOutcome:
    """Schedule every day with ``parts['mode']`` and settle it at ``parts['tariff']``.

    The battery's SOC at the end of a day is the next day's start; a day the
    mode cannot schedule is settled as the baseline and counted infeasible.
    """
    mode, tariff, forecast = parts["mode"], parts["tariff"], copy.deepcopy(parts["forecast"])
    battery_agent = parts["battery"] if getattr(mode, "uses_battery", False) else None
    soc = battery_agent.soc_init_kwh if battery_agent is not None else None
    rows, steps, skipped, infeasible = [], [], {}, {}
    baseline_mode = Baseline()
    for day in tqdm(days, desc=f"{parts['building'].id} {mode.name}", unit="day", disable=not progress):
        problem = build_problem(day, parts["building"], settings, max_kw, parts["ev"],
                                battery_agent.spec(soc) if battery_agent is not None else None)
        if isinstance(problem, str):
            skipped[problem] = skipped.get(problem, 0) + 1
            continue
        hours = day.hours["local_hour"].to_numpy()
        predicted = forecast.predict(hours, problem.actual_base_kw, problem.actual_pv_kw)
        forecast.observe(hours, problem.actual_base_kw, problem.actual_pv_kw)
        if predicted is None:
            skipped["no history yet for the forecast"] = skipped.get("no history yet for the forecast", 0) + 1
            continue
        request = _priced(problem, tariff, *predicted)
        plan = mode.plan(problem, request, parts)
        reference = baseline_mode.plan(problem, request, parts)
        if not plan.ok:
            infeasible[str(day.day)] = "; ".join(plan.diagnosis)
            plan = reference
        elif plan.battery is not None:
            soc = plan.battery.soc_kwh[-1]
        actual = settle(plan, problem.actual_base_kw, problem.actual_pv_kw)
        rows.append(_record(problem, request, plan, actual, reference, parts, theta, str(day.day) in infeasible))
        steps.append(_steps(problem, request, plan, actual))
        if parts.get("learner") is not None:
            parts["learner"].after_day(day.day)
    daily = pl.DataFrame(rows) if rows else pl.DataFrame()
    return ReplayOutcome(mode.name, daily, pl.concat(steps, how="diagonal") if steps else pl.DataFrame(), skipped, infeasible)


def _priced(problem: DayProblem, tariff, base_kw: np.ndarray, pv_kw: np.ndarray):
    request = copy.copy(problem.request)
    request.import_price_eur_kwh = tariff.import_price(problem.day.hours).tolist()
    request.export_price_eur_kwh = tariff.export_price(problem.day.hours).tolist()
    request.base_load_kw = np.maximum(base_kw, 0.0).tolist()
    request.pv_kw = np.maximum(pv_kw, 0.0).tolist()
    return request


def _record(problem: DayProblem, request, plan: DayResult, actual: Settled, reference: DayResult, parts: dict,
            theta: float, infeasible: bool) -> dict:
    """One day's KPIs; ``actual`` is the plan settled at the actual base load and PV."""
    prices = (request.import_price_eur_kwh, request.export_price_eur_kwh)
    base = settle(reference, problem.actual_base_kw, problem.actual_pv_kw)
    cost = kpis.energy_cost_eur(actual.import_kw, actual.export_kw, *prices)
    planned = {d: np.asarray(s.power_kw) for d, s in plan.devices.items()}
    battery = parts["battery"]
    charge = plan.battery.charge_kw if plan.battery is not None else [0.0]
    discharge = plan.battery.discharge_kw if plan.battery is not None else [0.0]
    probs = _start_probabilities(problem, plan, parts.get("learner") or parts["prior"])
    return {
        "local_date": problem.day.day, "hours": problem.day.n_steps, "infeasible": infeasible,
        "energy_cost_eur": cost,
        "baseline_cost_eur": kpis.energy_cost_eur(base.import_kw, base.export_kw, *prices),
        "metered_cost_eur": kpis.energy_cost_eur(problem.metered_import_kwh, problem.metered_export_kwh, *prices),
        "peak_import_kw": kpis.peak_import_kw(actual.import_kw),
        "baseline_peak_import_kw": kpis.peak_import_kw(base.import_kw),
        "import_kwh": float(actual.import_kw.sum()), "export_kwh": float(actual.export_kw.sum()),
        "pv_kwh": float(problem.actual_pv_kw.sum()), "curtailed_kwh": float(actual.curtailed_kw.sum()),
        "kwh_shifted": kpis.kwh_shifted(planned, problem.baseline_kw),
        "battery_charge_kwh": float(np.sum(charge)), "battery_discharge_kwh": float(np.sum(discharge)),
        "battery_cycles": kpis.battery_equivalent_full_cycles(charge, discharge, battery.capacity_kwh)
        if battery is not None and plan.battery is not None else 0.0,
        "starts": len(probs), "starts_preferred": int(sum(p >= theta for p in probs)),
        "degradation_eur": plan.degradation_eur or 0.0, "penalty_eur": plan.penalty_eur or 0.0,
        "build_seconds": plan.build_seconds, "solve_seconds": plan.solve_seconds,
    }


def _start_probabilities(problem: DayProblem, plan: DayResult, prior) -> list[float]:
    """The probability the PMFs in use (the learner's, else the prior's) give each scheduled start's local hour."""
    hours = problem.day.hours["local_hour"].to_numpy()
    out = []
    for d in problem.request.devices:
        if isinstance(d, DiscretePhaseDevice):
            pmf = day_pmf(prior, problem.device_of[d.name], problem)
            out += [float(pmf[hours[k]]) for k in plan.devices[d.name].starts or []]
    return out


def _steps(problem: DayProblem, request, plan: DayResult, actual: Settled) -> pl.DataFrame:
    frame = problem.day.hours.select("utc_hour", "local_date", "local_hour").with_columns(
        import_price_eur_kwh=pl.Series(request.import_price_eur_kwh),
        base_load_kw=pl.Series(problem.actual_base_kw), pv_kw=pl.Series(problem.actual_pv_kw),
        import_kw=pl.Series(actual.import_kw), export_kw=pl.Series(actual.export_kw),
        battery_kw=pl.Series(actual.battery_kw),
        battery_soc_kwh=pl.Series(plan.battery.soc_kwh[1:] if plan.battery is not None else [0.0] * problem.day.n_steps),
    )
    by_device: dict[str, np.ndarray] = {}
    for job, schedule in plan.devices.items():
        device = problem.device_of[job]
        by_device[device] = by_device.get(device, 0) + np.asarray(schedule.power_kw)
    return frame.with_columns([pl.Series(f"{d}_kw", v) for d, v in sorted(by_device.items())])
