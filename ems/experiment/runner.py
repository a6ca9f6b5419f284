"""The generic experiment runner behind ``run.py``.

It instantiates whatever the config groups name (``_target_``) into a typed
:class:`~ems.experiment.protocols.Experiment`, replays the period's real days
with the configured mode, prints the KPI table and writes outputs and MLflow
runs. It knows no agent class by name.
"""

from __future__ import annotations

import copy
import json
import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from hydra.core.hydra_config import HydraConfig
import polars as pl
from omegaconf import DictConfig, OmegaConf

from ems.agents.weather import WeatherAgent
from ems.config import load_config, override_key
from ems.data.days import DayData, load_days, select_days
from ems.data.errors import DataError
from ems.data.ingest import ensure_database
from ems.data.store import Store
from ems.experiment import kpis
from ems.experiment.bound import period_bound
from ems.experiment.forecast import NaiveForecast, PerfectForecast
from ems.experiment.preflight import check_experiment
from ems.experiment.protocols import Experiment
from ems.experiment.recorder import Recorder, RecordingError, TrackingTarget
from ems.experiment.replay import ReplayOutcome, history_frame, replay
from ems.experiment.summary import daily_frame, table, totals, unit_columns
from ems.planning.heating import describe as describe_heating

log = logging.getLogger(__name__)

#: Per-day columns logged to MLflow as step metrics (with several batteries or EVs, each unit's too).
DAILY_METRICS = ("energy_cost_eur", "baseline_cost_eur", "savings_eur", "peak_import_kw", "kwh_shifted",
                 "battery_cycles", "solve_seconds")
#: The groups ``compare`` varies.
COMPARED = ("mode", "battery")


@dataclass
class Period:
    """The period's valid days, the skipped ones, and facts the replay needs from the store."""

    days: list[DayData]
    skipped: dict[str, int]
    max_kw: dict[str, float]
    sources: list[str]


def load_period(cfg: DictConfig, building) -> Period:
    """Read the configured period of ``building`` from the store (read-only)."""
    with Store(ensure_database(cfg.data), cfg.data.timezone) as store:
        store.require_building(building.id, building.source_hint)
        days = select_days(store, building, cfg.period.start, cfg.period.n_days)
        if not days:
            raise DataError(f"period.start={cfg.period.start}: building {building.id} has no readings in that period")
        valid, skipped = load_days(store, building, days)
        peaks = store.query("SELECT device, max(energy_kwh) AS kw FROM readings WHERE building = ? AND valid "
                            "GROUP BY device", [building.id])
        sources = store.query("SELECT sha256 FROM sources WHERE kind <> 'household' UNION ALL "
                              "SELECT source_sha256 FROM buildings WHERE building = ?", [building.id])
    counts: dict[str, int] = {}
    for reason in skipped.values():
        counts[reason] = counts.get(reason, 0) + 1
    return Period(valid, counts, dict(zip(peaks["device"], peaks["kw"])), sources["sha256"].to_list())


def run_experiment(cfg: DictConfig, output_dir: str | Path | None = None, parent_run_id: str | None = None,
                   job_label: str | None = None, overrides: list[str] | None = None) -> float | list[float]:
    """Run the configured experiment; print and record its KPIs; return its objective.

    ``objective`` names the KPI a sweeper optimises (default the energy cost in
    EUR); a list of names returns one value each (multi-objective sweeps).
    With ``compare`` set (``experiment=compare``) every listed mode x battery
    combination is composed by Hydra with the user's ``overrides`` (default:
    the command line's) and runs on the same days under one parent MLflow
    run; the first combination's objective is returned. ``parent_run_id``
    nests the run(s) under a sweep's MLflow run; ``job_label`` prefixes their names.
    """
    columns, _ = execute(cfg, output_dir, parent_run_id, job_label, overrides,
                         shown=lambda c, title: print(table(c, title)))  # before recording ends: a broken
    return objective(cfg.objective, next(iter(columns.values())))  # store still leaves the table printed


def execute(cfg: DictConfig, output_dir: str | Path | None = None, parent_run_id: str | None = None,
            job_label: str | None = None, overrides: list[str] | None = None,
            shown: Callable[[dict, str], None] | None = None) -> tuple[dict[str, dict[str, float]], str]:
    """Run the configured experiment, write and record its outputs as :func:`run_experiment` does; return
    label -> totals and the KPI table's title (what ``python -m ems evaluate`` collects). ``shown`` gets
    both before the recorder finishes (the runner prints the table there); nothing is printed otherwise."""
    check_experiment(cfg)  # before anything runs: a meaningless config is one line, exit 2
    recorder = _recorder(cfg)  # first: its helper process imports MLflow while the rest runs
    try:
        columns, first, period = _run(cfg, recorder, output_dir, parent_run_id, job_label, overrides)
    except RecordingError:  # already the one line the caller prints
        recorder.abandon(report=False)
        raise
    except BaseException:
        recorder.abandon()
        raise
    title = _title(first, period)
    if shown is not None:
        shown(columns, title)
    recorder.close()
    return columns, title


def _run(cfg: DictConfig, recorder: Recorder, output_dir, parent_run_id, job_label, overrides):
    ensure_database(cfg.data)  # before instantiating: a learned prior reads the store
    first = Experiment.from_config(cfg)
    period = load_period(cfg, first.building)
    if first.learner is not None and period.days:
        with Store(cfg.data.db, cfg.data.timezone) as store:
            first.learner.prepare(store, first.building, period.days[0].day, period.days[-1].day)
    if first.heating is not None and period.days:
        with Store(cfg.data.db, cfg.data.timezone) as store:
            first.heating.prepare(store, first.building, period.days[0].day, period.days[-1].day)
    out = Path(output_dir) if output_dir is not None else Path(tempfile.mkdtemp(prefix="ems-run-"))
    combos = _combinations(cfg, first, _user_overrides(overrides))
    parent = parent_run_id
    tags = _tags(cfg, period) if recorder.tracking else {}
    if first.building.synthetic_meters:  # every output of a run with a synthetic meter says so
        tags["synthetic"] = "; ".join(first.building.synthetic_notes())
    if recorder.tracking and len(combos) > 1:
        parent = recorder.start(cfg.name, _params(cfg), tags, parent_run_id)
    columns = {}
    prepared: dict[int, NaiveForecast] = {}  # forecast -> the naive reference prepared with the same history
    for label, (exp, combo_cfg) in combos.items():
        if id(exp.forecast) not in prepared:
            prepared[id(exp.forecast)] = _prepare_forecast(cfg, exp, period)
        exp.learner = copy.deepcopy(first.learner)  # each run learns from the same prepared start
        outcome = replay(period.days, exp, period.max_kw, reference=prepared[id(exp.forecast)])
        outcome.skipped.update(period.skipped)
        columns[label] = totals(outcome)
        columns[label].update(_regret(cfg, exp, period, outcome, columns[label], first.learner))
        run_dir = out / label if len(combos) > 1 else out
        run_dir.mkdir(parents=True, exist_ok=True)
        if exp.learner is not None:
            exp.learner.finish(run_dir)
            columns[label].update(exp.learner.metrics())
        daily = _write(run_dir, combo_cfg, outcome, columns[label], exp)
        if not daily.is_empty():
            synthetic = " (synthetic: " + ", ".join(exp.building.synthetic_meters) + ")" \
                if exp.building.synthetic_meters else ""
            recorder.plots(run_dir, outcome.steps, daily, f"{exp.building.id} {label}{synthetic}")
        if recorder.tracking:
            name = f"{job_label} {label}" if job_label else label
            run = recorder.start(name[:250], _params(combo_cfg, exp), tags, parent)
            recorder.log_daily(run, daily, list(DAILY_METRICS) + unit_columns(daily))
            recorder.log_totals(run, columns[label])
            recorder.finish(run, run_dir)
    if parent is not None and parent != parent_run_id:
        recorder.log_totals(parent, {f"{k}/{label}": v for label, c in columns.items() for k, v in c.items()})
        recorder.finish(parent)
    return columns, first, period


def _title(first: Experiment, period: Period) -> str:
    """The KPI table's title: building, period, tariff, and what the plans assumed (forecast, horizon,
    planning; with scenarios, how many)."""
    planning = first.planning.name
    if getattr(first.planning, "n_scenarios", None):
        planning += f" ({first.planning.n_scenarios} scenarios)"
    horizon = f"horizon {first.horizon.hours} h"
    if first.horizon.replan_hours:
        horizon += f", re-planned every {first.horizon.replan_hours} h"
    title = (f"{first.building.id} | {_period_text(period)} | {type(first.tariff).__name__} | forecast "
             f"{first.forecast.name} | {horizon} | {planning}")
    if first.building.synthetic_meters:
        title += " | " + "; ".join(first.building.synthetic_notes())
    if first.heating is not None:
        s = first.heating.settings
        title += (f" | heating {s.schedule} (1R1C fitted, band +-{s.band_k:g} K, time constant "
                  f"{s.time_constant_h:g} h assumed)")
    return title


def _regret(cfg: DictConfig, exp: Experiment, period: Period, outcome: ReplayOutcome,
            result: dict[str, float], start_learner: Any) -> dict[str, float]:
    """The perfect-foresight bound over the run's scheduled days and the regret against it, split into
    the forecast's part (a replay of the same run, from the same prepared learner, with perfect
    foresight) and the horizon's."""
    options = cfg.get("regret") or {}
    if not options.get("enabled", True) or outcome.daily.is_empty():
        return {}
    scheduled = set(outcome.daily["local_date"].to_list())
    days = [d for d in period.days if d.day in scheduled]
    end_soc = {b.name: b.soc_kwh for b in exp.batteries} if exp.mode.uses_battery else None
    bound = period_bound(days, exp, period.max_kw, end_soc, period.days)
    if bound is None:
        return {}
    cost = result["energy_cost_eur"]
    out = {"bound_cost_eur": bound.cost_eur, "regret_eur": cost - bound.cost_eur,
           "regret_pct": kpis.share_pct(cost - bound.cost_eur, result["baseline_import_cost_eur"]),
           "bound_seconds": bound.seconds}
    if exp.forecast.name == "perfect":
        out |= {"regret_forecast_eur": 0.0, "regret_horizon_eur": out["regret_eur"]}
    elif options.get("split", True):
        foresight = replace(exp, forecast=PerfectForecast(), learner=copy.deepcopy(start_learner))
        perfect = totals(replay(days, foresight, period.max_kw, progress=False))["energy_cost_eur"]
        out |= {"regret_forecast_eur": cost - perfect, "regret_horizon_eur": perfect - bound.cost_eur}
    log.info("bound: %.2f EUR over %d days (%s, %.1f s)", bound.cost_eur, bound.days, bound.method, bound.seconds)
    return out


def _prepare_forecast(cfg: DictConfig, exp: Experiment, period: Period) -> NaiveForecast:
    """Hand a forecast that needs history the building's valid days before the period and the weather
    of the record; the naive reference of the skill scores, prepared with the same days."""
    reference = NaiveForecast(timezone=cfg.data.timezone)
    if not period.days or not exp.forecast.needs_history:
        return reference
    start = period.days[0].day
    with Store(cfg.data.db, cfg.data.timezone) as store:
        before = [d for d in select_days(store, exp.building, None, None) if d < start]
        days, _ = load_days(store, exp.building, before)
    history = history_frame(days, exp, period.max_kw)
    first = days[0].day if days else start
    weather = WeatherAgent(cfg.data.db, cfg.data.timezone).hours(first, period.days[-1].day)
    log.info("forecast %s: %d valid days before %s to learn from", exp.forecast.name, len(days), start)
    exp.forecast.prepare(history, weather)
    reference.prepare(history, weather)
    return reference


def objective(names: Any, result: dict[str, float]) -> float | list[float]:
    """The KPI(s) named by ``objective`` (a name or a list of names); NaN for one that is undefined."""
    if isinstance(names, str):
        return float(result.get(names, float("nan")))
    return [float(result.get(name, float("nan"))) for name in names]


def _user_overrides(overrides: list[str] | None) -> list[str]:
    """The overrides the run was composed with: given, else the Hydra command line's."""
    if overrides is not None:
        return list(overrides)
    if HydraConfig.initialized():
        return list(HydraConfig.get().overrides.task)
    return []


def _combinations(cfg: DictConfig, first: Experiment, overrides: list[str]) -> dict[str, tuple[Experiment, DictConfig]]:
    """label -> (experiment, config); one entry unless ``compare`` lists modes and batteries.

    Each combination is composed by Hydra from the user's overrides with its
    own ``mode=`` / ``battery=`` choice; the user's keys under ``mode.`` or
    ``battery.`` (e.g. ``mode.w_prob=0.5``) apply to every combination whose
    option has that key (so to phases, not to baseline).
    """
    spec = cfg.get("compare")
    if not spec:
        return {first.mode.name: (first, cfg)}
    chosen = [o for o in overrides if override_key(o) not in COMPARED]
    combos = {}
    for battery in spec.battery:
        for mode in spec.modes:
            selection = [f"mode={mode}", f"battery={battery}"]
            plain = [o for o in chosen if override_key(o).split(".")[0] not in COMPARED]
            node = load_config(plain + selection)
            keep = [o for o in chosen if o in plain or OmegaConf.select(node, override_key(o)) is not None]
            if keep != plain:  # the user's mode./battery. keys that this combination's options have
                node = load_config(keep + selection)
            combos[f"{mode}/{battery}"] = (Experiment.from_config(node, like=(first, cfg)), node)
    return combos


def _period_text(period: Period) -> str:
    if not period.days:
        return "no valid days"
    return f"{period.days[0].day} .. {period.days[-1].day}"


def _write(out: Path, cfg: DictConfig, outcome: ReplayOutcome, result: dict, exp: Experiment) -> pl.DataFrame:
    """The run's config, summary (with the heating model's fit and assumptions, if any), per-day table and
    per-step schedules; returns the per-day table."""
    out.mkdir(parents=True, exist_ok=True)
    daily = daily_frame(outcome)
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    (out / "summary.json").write_text(json.dumps(
        {"totals": result, "skipped": outcome.skipped, "infeasible": outcome.infeasible}
        | ({"heating": describe_heating(exp.heating)} if exp.heating is not None and exp.heating.fits else {})
        | ({"synthetic": exp.building.synthetic_notes()} if exp.building.synthetic_meters else {}),
        indent=2, default=str))
    if not daily.is_empty():
        steps = outcome.steps
        if exp.building.synthetic_meters:  # the per-day and per-step tables say so too, in a column
            note = "; ".join(exp.building.synthetic_notes())
            daily, steps = daily.with_columns(synthetic=pl.lit(note)), steps.with_columns(synthetic=pl.lit(note))
        daily.write_csv(out / "daily.csv")
        steps.write_parquet(out / "schedules.parquet")
    return daily


def _recorder(cfg: DictConfig) -> Recorder:
    target = None
    if cfg.tracking.enabled:
        target = TrackingTarget(cfg.tracking.uri, cfg.name, cfg.tracking.artifact_root)
    return Recorder(target, background=bool(cfg.tracking.get("background", True)))


def _params(cfg: DictConfig, exp: Experiment | None = None) -> dict[str, str]:
    from ems.experiment.tracking import flatten

    params = flatten(cfg)
    if exp is not None:
        params["mode.name"] = exp.mode.name
        params["battery.enabled"] = str(bool(exp.batteries))
        params["ev.enabled"] = str(bool(exp.evs))
        params["batteries.count"], params["evs.count"] = str(len(exp.batteries)), str(len(exp.evs))
    return params


def _tags(cfg: DictConfig, period: Period) -> dict[str, str]:
    from ems.experiment.tracking import data_hash, git_commit

    return {"git_commit": git_commit(), "data_hash": data_hash(period.sources), "building": cfg.building.id}
