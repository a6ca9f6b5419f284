"""The rolling-horizon day loop for one mode: plan, settle, measure, carry state."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field, replace
from datetime import timedelta

import numpy as np
import polars as pl
from tqdm import tqdm

from ems.data.days import DayData
from ems.experiment import kpis
from ems.experiment.forecast import NaiveForecast, Predicted
from ems.experiment.modes import Baseline
from ems.experiment.problem import DayProblem, pose
from ems.experiment.protocols import Experiment
from ems.agents.ev import Carry
from ems.experiment.settlement import Settled, settle
from ems.forecasting import pinball
from ems.learning.priors import PmfSource
from ems.optim.request import DayRequest, DemandCharge
from ems.optim.result import DayResult
from ems.planning.horizon import commit, extend
from ems.planning.mpc import replan
from ems.planning.preferences import WIDENED

log = logging.getLogger(__name__)


@dataclass
class ReplayOutcome:
    """Per-day records, per-step schedules and skip/infeasible reasons of one mode's replay."""

    mode: str
    daily: pl.DataFrame
    steps: pl.DataFrame
    skipped: dict[str, int] = field(default_factory=dict)
    infeasible: dict[str, str] = field(default_factory=dict)


def replay(days: list[DayData], exp: Experiment, max_kw: dict[str, float], progress: bool = True,
           reference: NaiveForecast | None = None) -> ReplayOutcome:
    """Schedule every day with ``exp.mode`` and settle it at ``exp.tariff``.

    Each battery agent carries its SOC from one day to the next (it starts from
    the configured SOC), each EV its overnight session; a day the mode cannot schedule is settled as the
    baseline and counted infeasible. Each day's forecast errors are recorded
    against the actual base load and PV, and against ``reference`` (the naive
    forecast, for the skill scores; a fresh one if not given).
    """
    forecast = copy.deepcopy(exp.forecast)
    exp = replace(exp, planning=copy.deepcopy(exp.planning))  # a replay's scenario history starts empty
    reference = copy.deepcopy(reference) if reference is not None else NaiveForecast()
    for battery in exp.batteries:
        battery.reset()
    coordinator = exp.optimizer()
    rows, steps, skipped, infeasible = [], [], {}, {}
    replans_failed = 0
    baseline_mode = Baseline()

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    ahead = exp.horizon.extra_hours if exp.mode.plans_ahead else 0
    following = {a.day: b for a, b in zip(days, days[1:]) if (b.day - a.day).days == 1}
    preceding = {b.day: a for a, b in zip(days, days[1:]) if (b.day - a.day).days == 1}
    prices = _price_lookup(days) if ahead and exp.horizon.price_forecast == "last_week" else {}
    demand_rate = float(exp.tariff.demand_eur_kw_month)
    month_peak: dict[tuple[int, int], float] = {}  # the settled peak import (kW) of each month so far
    posed: dict = {}
    evs = coordinator.evs
    for ev in evs:
        ev.reset()

    def posed_day(day: DayData | None):  # a day is posed once (also as the day before or after another)
        if day is None:
            return None
        if day.day not in posed:
            for old in [d for d in posed if d < day.day - timedelta(days=1)]:
                del posed[old]
            posed[day.day] = pose(day, exp.building, exp.replay, max_kw, exp.evs, exp.heating)
        problem = posed[day.day]
        return None if isinstance(problem, str) else problem

    for day in tqdm(days, desc=f"{exp.building.id} {exp.mode.name}", unit="day",
                    disable=None if progress else True):  # None: shown on a terminal only
        if posed_day(day) is None:
            skip(posed[day.day])
            continue
        problem = posed[day.day]
        n = day.n_steps
        after = _beyond(day, following.get(day.day), ahead, posed_day)
        carry = _carry(evs, problem, posed_day(preceding.get(day.day)), posed_day(following.get(day.day)))
        hours = day.hours if after is None else pl.concat([day.hours, after[0]], how="vertical_relaxed")
        actual = [problem.actual_base_kw, problem.actual_pv_kw]
        if after is not None:
            actual = [np.r_[actual[0], after[1]], np.r_[actual[1], after[2]]]
        predicted = forecast.predict(hours, *actual)
        naive = reference.predict(day.hours, problem.actual_base_kw, problem.actual_pv_kw)
        forecast.observe(day.hours, problem.actual_base_kw, problem.actual_pv_kw)
        reference.observe(day.hours, problem.actual_base_kw, problem.actual_pv_kw)
        if predicted is None:
            skip("no history yet for the forecast")
            continue
        prices_now = exp.tariff.import_price(day.hours), exp.tariff.export_price(day.hours)
        try:
            request = coordinator.request(problem.needs, *prices_now, predicted.base_kw[:n], predicted.pv_kw[:n],
                                          carry=carry)
            metered = request  # the baseline's: its EVs continue from what the metered charging left
            if any(c.start_soc_kwh is not None for c in carry.values()):
                metered = coordinator.request(problem.needs, *prices_now, predicted.base_kw[:n], predicted.pv_kw[:n],
                                              carry={k: replace(c, start_soc_kwh=None) for k, c in carry.items()})
        except ValueError as exc:  # e.g. metered EV charging beyond the configured car: a data fact, counted
            skip(str(exc))
            continue
        month = (day.day.year, day.day.month)
        if demand_rate > 0:  # a new peak costs only its increment over the month's peak so far
            request = request.model_copy(update={"demand_charge": DemandCharge(
                eur_per_kw=demand_rate, peak_so_far_kw=month_peak.get(month, 0.0))})
        planned = request
        if after is not None:
            later = _priced(after[0], day, exp.horizon.price_forecast, prices)
            longer = [spec for ev in evs if (spec := ev.spec(
                problem.needs, steps=n + len(after[1]), after=carry[ev.name].after, before=carry[ev.name].before,
                start_soc_kwh=carry[ev.name].start_soc_kwh)) is not None]
            planned = extend(request, exp.tariff.import_price(later), exp.tariff.export_price(later),
                             predicted.base_kw[n:], predicted.pv_kw[n:], evs=longer)
        exp.planning.draw(predicted, day.day, planned.n_steps)
        plan = exp.mode.plan(problem, planned, exp)
        if exp.horizon.replan_hours and plan.ok and (prepared := exp.mode.prepare(problem, planned, exp)) is not None:
            plan, failed = _replan(plan, prepared, predicted, problem, exp)
            replans_failed += len(failed)
        plan = commit(plan, request)
        baseline = baseline_mode.plan(problem, metered)
        if not plan.ok:
            infeasible[str(day.day)] = "; ".join(plan.diagnosis)
            plan = baseline
        else:
            for battery in coordinator.batteries:
                battery.end_day(plan)
        for ev in evs:
            ev.end_day(day.day, plan, n, carry[ev.name].after is not None)
        settled = settle(plan, problem.actual_base_kw, problem.actual_pv_kw)
        month_peak[month] = max(month_peak.get(month, 0.0), float(settled.import_kw.max(initial=0.0)))
        exp.planning.observe(predicted, problem.actual_base_kw, problem.actual_pv_kw)
        rows.append(_record(problem, request, plan, settled, baseline, exp, str(day.day) in infeasible)
                    | _forecast_errors(problem, _day_part(predicted, n), naive))
        steps.append(_steps(problem, request, plan, settled))
        if exp.learner is not None:
            exp.learner.after_day(day.day)
    if replans_failed:
        log.warning("%s %s: %d re-plans inside the day failed and kept the plan they had", exp.building.id,
                    exp.mode.name, replans_failed)
    daily = pl.DataFrame(rows) if rows else pl.DataFrame()
    return ReplayOutcome(exp.mode.name, daily, pl.concat(steps, how="diagonal") if steps else pl.DataFrame(),
                         skipped, infeasible)


def _replan(plan: DayResult, prepared: DayRequest, predicted: Predicted, problem: DayProblem,
            exp: Experiment) -> tuple[DayResult, list[str]]:
    """``plan`` re-planned every ``horizon.replan_hours`` inside the day (see :mod:`ems.planning.mpc`)."""
    day = problem.day.day

    def solve(sub: DayRequest, t0: int) -> DayResult:
        exp.planning.draw(_shifted(predicted, t0), day, sub.n_steps)
        return exp.solve(sub)

    return replan(plan, prepared, exp.horizon.replan_hours, problem.day.n_steps,
                  (predicted.base_kw, predicted.pv_kw), (problem.actual_base_kw, problem.actual_pv_kw),
                  exp.horizon.error_decay, solve)


def _shifted(predicted: Predicted, t0: int) -> Predicted:
    """The forecast from step ``t0`` on."""
    return Predicted(predicted.base_kw[t0:], predicted.pv_kw[t0:], {q: v[t0:] for q, v in predicted.base_q.items()},
                     {q: v[t0:] for q, v in predicted.pv_q.items()})


def _carry(evs, problem: DayProblem, before: DayProblem | None, after: DayProblem | None) -> dict[str, Carry]:
    """Per EV: the overnight sessions ``problem``'s day shares with the day before and the day after
    (posed days, None where not replayed) and the SOC the committed day before left its session at
    (see :meth:`ems.agents.ev.EVAgent.spec`)."""
    out = {}
    for ev in evs:
        prev = ev.link(before.needs, problem.needs) if before is not None else None
        out[ev.name] = Carry(ev.link(problem.needs, after.needs) if after is not None else None, prev,
                             ev.start_soc(problem.day.day) if prev is not None else None)
    return out


def _beyond(day: DayData, following: DayData | None, hours: int, posed_day) -> tuple | None:
    """(hour table, actual base kW, actual PV kW) of the first ``hours`` hours after ``day`` (from the
    next local day, when it is valid and can be posed); None when there is nothing to plan ahead."""
    if not hours or following is None:
        return None
    problem = posed_day(following)
    if problem is None:
        return None
    k = min(hours, following.n_steps)
    return following.hours.head(k), problem.actual_base_kw[:k], problem.actual_pv_kw[:k]


def _price_lookup(days: list[DayData]) -> dict:
    """utc_hour -> day-ahead price (EUR/MWh) of every replayed hour."""
    frame = pl.concat([d.hours.select("utc_hour", "price_eur_mwh") for d in days])
    return dict(zip(frame["utc_hour"].to_list(), frame["price_eur_mwh"].to_list()))


def _priced(hours: pl.DataFrame, day: DayData, how: str, prices: dict) -> pl.DataFrame:
    """The hour table of the hours beyond ``day`` with the prices a plan made at ``day``'s start knows:
    the actual ones (``perfect``), or the same hour seven days earlier (``last_week``; the same local
    hour of ``day`` itself when that week-old hour is not among the replayed days)."""
    if how == "perfect":
        return hours
    own = dict(day.hours.group_by("local_hour").agg(pl.col("price_eur_mwh").mean()).iter_rows())
    week = [prices.get(t - timedelta(days=7)) for t in hours["utc_hour"].to_list()]
    known = [w if w is not None else own.get(h, float(np.mean(list(own.values()))))
             for w, h in zip(week, hours["local_hour"].to_list())]
    return hours.with_columns(price_eur_mwh=pl.Series(known, dtype=pl.Float64))


def _day_part(predicted: Predicted, n: int) -> Predicted:
    """The forecast of the day's own steps (a receding plan forecasts more)."""
    return Predicted(predicted.base_kw[:n], predicted.pv_kw[:n], {q: v[:n] for q, v in predicted.base_q.items()},
                     {q: v[:n] for q, v in predicted.pv_q.items()})


def _forecast_errors(problem: DayProblem, predicted: Predicted, naive: Predicted | None) -> dict:
    """Sums of the day's forecast errors (kW per hour) of base load and PV: absolute, squared, pinball
    per quantile level, and the naive reference's absolute and squared errors (None without one)."""
    out: dict = {"forecast_hours": problem.day.n_steps}
    for key, actual, point, levels, ref in (
            ("base", problem.actual_base_kw, predicted.base_kw, predicted.base_q, naive and naive.base_kw),
            ("pv", problem.actual_pv_kw, predicted.pv_kw, predicted.pv_q, naive and naive.pv_kw)):
        error = np.asarray(actual) - np.asarray(point)
        out[f"{key}_abs_err"], out[f"{key}_sq_err"] = float(np.abs(error).sum()), float((error ** 2).sum())
        if ref is not None:
            miss = np.asarray(actual) - np.asarray(ref)
            out[f"{key}_ref_abs_err"], out[f"{key}_ref_sq_err"] = float(np.abs(miss).sum()), float((miss ** 2).sum())
        else:
            out[f"{key}_ref_abs_err"] = out[f"{key}_ref_sq_err"] = None
        for q, values in levels.items():
            out[f"{key}_pinball_p{round(q * 100):02d}"] = pinball(actual, values, q) * len(actual)
    return out


def history_frame(days: list[DayData], exp: Experiment, max_kw: dict[str, float]) -> pl.DataFrame:
    """utc_hour, base_kw, pv_kw of ``days`` as the replay poses them (days that cannot be posed are left
    out): what a forecast may learn from before the period."""
    frames = []
    for day in days:
        problem = pose(day, exp.building, exp.replay, max_kw, exp.evs)
        if isinstance(problem, str):
            continue
        frames.append(pl.DataFrame({"utc_hour": day.hours["utc_hour"], "base_kw": problem.actual_base_kw,
                                    "pv_kw": problem.actual_pv_kw}))
    if not frames:
        return pl.DataFrame(schema={"utc_hour": pl.Datetime("us"), "base_kw": pl.Float64, "pv_kw": pl.Float64})
    return pl.concat(frames).with_columns(pl.col("utc_hour").cast(pl.Datetime("us")))


def _planned(problem: DayProblem, plan: DayResult) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(planned, metered) power per job, each EV's charging as one more job."""
    planned = {d: np.asarray(s.power_kw) for d, s in plan.devices.items()}
    metered = dict(problem.needs.baseline_kw)
    for name, kw in problem.needs.ev_baseline_kw.items():
        if name in plan.storages:
            planned[name], metered[name] = np.asarray(plan.storages[name].charge_kw), kw
    return planned, metered


def _record(problem: DayProblem, request: DayRequest, plan: DayResult, actual: Settled, reference: DayResult,
            exp: Experiment, infeasible: bool) -> dict:
    """One day's KPIs; ``actual`` is the plan settled at the actual base load and PV."""
    prices = (request.import_price_eur_kwh, request.export_price_eur_kwh)
    base = settle(reference, problem.actual_base_kw, problem.actual_pv_kw)
    cost = kpis.energy_cost_eur(actual.import_kw, actual.export_kw, *prices)
    planned, metered = _planned(problem, plan)
    n = problem.day.n_steps
    charge, discharge, capacity = np.zeros(n), np.zeros(n), 0.0
    for battery in exp.batteries:  # the fleet's throughput against its capacity
        schedule = plan.storages.get(battery.name)
        if schedule is not None:
            charge, discharge = charge + schedule.charge_kw, discharge + np.asarray(schedule.discharge_kw)
            capacity += battery.capacity_kwh
    probs = _start_probabilities(problem, plan, exp.pmfs)
    return {
        "local_date": problem.day.day, "hours": problem.day.n_steps, "infeasible": infeasible,
        "energy_cost_eur": cost,
        "baseline_cost_eur": kpis.energy_cost_eur(base.import_kw, base.export_kw, *prices),
        "baseline_import_cost_eur": kpis.import_cost_eur(base.import_kw, prices[0]),
        "metered_cost_eur": kpis.energy_cost_eur(problem.metered_import_kwh, problem.metered_export_kwh, *prices),
        "peak_import_kw": kpis.peak_import_kw(actual.import_kw),
        "baseline_peak_import_kw": kpis.peak_import_kw(base.import_kw),
        "import_kwh": float(actual.import_kw.sum()), "export_kwh": float(actual.export_kw.sum()),
        "pv_kwh": float(problem.actual_pv_kw.sum()), "curtailed_kwh": float(actual.curtailed_kw.sum()),
        "kwh_shifted": kpis.kwh_shifted(planned, metered, prices[0]),
        "battery_charge_kwh": float(np.sum(charge)), "battery_discharge_kwh": float(np.sum(discharge)),
        "battery_cycles": kpis.battery_equivalent_full_cycles(charge, discharge, capacity) if capacity else 0.0,
        "starts": len(probs), "starts_preferred": int(sum(p >= exp.theta for p in probs)),
        "starts_as_household": kpis.as_household(*_start_pairs(problem, plan), exp.replay.satisfaction_tolerance_h),
        "jobs_widened": sum(w.endswith(WIDENED) for w in plan.warnings),
        "degradation_eur": plan.degradation_eur or 0.0, "penalty_eur": plan.penalty_eur or 0.0,
        "demand_eur_kw_month": float(exp.tariff.demand_eur_kw_month),
        "build_seconds": plan.build_seconds, "solve_seconds": plan.solve_seconds,
        **_comfort(problem, plan, exp), **_units(plan, exp),
    }


def _units(plan: DayResult, exp: Experiment) -> dict:
    """Per battery and per EV of a house with more than one of either: its charge and discharge (kWh), a
    battery's equivalent full cycles, an EV's SOC at the day's end (kWh); empty otherwise."""
    out: dict = {}
    if len(exp.batteries) < 2 and len(exp.evs) < 2:
        return out
    for unit in [*exp.batteries, *exp.evs]:
        schedule = plan.storages.get(unit.name)
        charge = np.asarray(schedule.charge_kw if schedule is not None else [0.0], float)
        discharge = np.asarray(schedule.discharge_kw if schedule is not None and schedule.discharge_kw else [0.0])
        out[f"{unit.name}_charge_kwh"], out[f"{unit.name}_discharge_kwh"] = float(charge.sum()), float(discharge.sum())
        if unit in exp.batteries:
            out[f"{unit.name}_cycles"] = kpis.battery_equivalent_full_cycles(charge, discharge, unit.capacity_kwh)
    return out


def _comfort(problem: DayProblem, plan: DayResult, exp: Experiment) -> dict:
    """The comfort KPIs of the plan's heat pumps under the fitted building model (any schedule: thermal,
    quota or the metered one); empty without a heating group."""
    heating = exp.heating
    if heating is None or not heating.fits:
        return {}
    temperature = heating.day_temperature(problem.day.hours["utc_hour"].to_list())
    found = []
    for job, device in problem.device_of.items():
        if device in heating.fits and job in plan.devices:
            power = np.asarray(plan.devices[job].power_kw, float)
            model = heating.device(job, device, problem.needs.baseline_kw[job], temperature, float(power.max(initial=0)))
            found.append(heating.comfort(model, power))
    if not found:
        return {}
    merge = {"deviation_min_k": min, "deviation_max_k": max, "deviation_end_k": min}
    return {key: merge.get(key, sum)(f[key] for f in found) for key in found[0]}


def _start_probabilities(problem: DayProblem, plan: DayResult, pmfs: PmfSource) -> list[float]:
    """The probability the PMFs in use give each scheduled start's local hour (jobs with starts)."""
    hours = problem.needs.local_hours
    out = []
    for job, schedule in plan.devices.items():
        if schedule.starts:
            pmf = np.asarray(pmfs.pmf(problem.device_of[job], problem.day.day))
            out += [float(pmf[hours[k]]) for k in schedule.starts]
    return out


def _start_pairs(problem: DayProblem, plan: DayResult) -> tuple[np.ndarray, np.ndarray]:
    """(scheduled start, the household's metered start) of every run the plan started (steps of the day)."""
    scheduled, household = [], []
    for job, schedule in plan.devices.items():
        metered = np.flatnonzero(problem.needs.baseline_kw.get(job, np.zeros(0)))
        if schedule.starts and len(metered):
            scheduled.append(schedule.starts[0])
            household.append(int(metered[0]))
    return np.asarray(scheduled, int), np.asarray(household, int)


def _steps(problem: DayProblem, request: DayRequest, plan: DayResult, actual: Settled) -> pl.DataFrame:
    n = problem.day.n_steps
    frame = problem.day.hours.select("utc_hour", "local_date", "local_hour").with_columns(
        import_price_eur_kwh=pl.Series(request.import_price_eur_kwh),
        base_load_kw=pl.Series(problem.actual_base_kw), pv_kw=pl.Series(problem.actual_pv_kw),
        import_kw=pl.Series(actual.import_kw), export_kw=pl.Series(actual.export_kw),
    )
    batteries = [b.name for b in request.batteries if b.name in plan.storages]
    soc = sum((np.asarray(plan.storages[b].soc_kwh[1:]) for b in batteries), np.zeros(n))
    columns = {"battery_kw": sum((actual.storage_kw[b] for b in batteries), np.zeros(n)), "battery_soc_kwh": soc}
    if len(batteries) > 1:  # each battery of several, beside their sums
        for b in batteries:
            columns[f"{b}_kw"], columns[f"{b}_soc_kwh"] = actual.storage_kw[b], np.asarray(plan.storages[b].soc_kwh[1:])
    by_device: dict[str, np.ndarray] = {}
    for job, schedule in plan.devices.items():
        device = problem.device_of[job]
        by_device[device] = by_device.get(device, 0) + np.asarray(schedule.power_kw)
    for ev in request.evs:  # each EV's charging under its own name (the single EV: ``ev``)
        if ev.name in plan.storages:
            by_device[ev.name] = by_device.get(ev.name, 0) + actual.storage_kw[ev.name]
    frame = frame.with_columns([pl.Series(k, v) for k, v in columns.items()])
    return frame.with_columns([pl.Series(f"{d}_kw", v) for d, v in sorted(by_device.items())])
