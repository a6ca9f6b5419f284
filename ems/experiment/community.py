"""``python run.py experiment=community buildings=[...]``: buildings scheduled alone and as one community.

On every local day all the listed buildings have valid (and posable) data,
each building is scheduled (a) alone, behind its own house connection, and
(b) jointly with the others behind one shared connection point
(:func:`ems.optim.community.optimize_community`), both with the same parts
(every flexible device, a copy of the configured battery per building, its
SOC carried from day to day separately in (a) and (b)) and the same foresight
(``forecast=perfect``: the metered base load and PV; the comparison is of
coordination, not of forecasting). The community's bill is split by
:mod:`ems.experiment.sharing`. EVs are not scheduled here (``ev=none``): the
EV's metered charging stays in the base load.

Output (the run folder): ``community.csv`` (one row per building and one for
the community: cost alone and jointly, savings and their split, imports,
self-sufficiency, peaks), ``daily.csv``, ``summary.json``, ``config.yaml``;
the table is printed and every figure is logged to MLflow.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl
from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tqdm import tqdm

from ems.agents.optimizer import GlobalOptimizer
from ems.config import instantiate, load_config
from ems.data.ingest import ensure_database
from ems.experiment import kpis
from ems.experiment.preflight import check_tracking_uri
from ems.experiment.problem import pose
from ems.experiment.protocols import Experiment
from ems.experiment.recorder import Recorder, TrackingTarget
from ems.experiment.runner import load_period
from ems.experiment.sharing import internal_price, split_costs
from ems.messages import one_line
from ems.optim.community import optimize_community
from ems.optim.kinds.grid import Grid
from ems.optim.optimize import optimize_day

log = logging.getLogger(__name__)


class CommunitySettings(BaseModel):
    """See ``conf/experiment/community.yaml`` (every key is documented there)."""

    model_config = ConfigDict(extra="forbid")

    max_import_kw: float = Field(gt=0)
    max_export_kw: float = Field(ge=0)
    sharing_price_eur_kwh: float | None = None


@dataclass
class Member:
    """One building of the community: its parts, its period, and its battery agents alone and jointly."""

    exp: Experiment
    period: object
    alone: GlobalOptimizer
    joint: GlobalOptimizer


def settings_of(cfg: DictConfig) -> tuple[list[str], CommunitySettings]:
    """The listed buildings and the community settings; a one-line error naming the key otherwise."""
    names = OmegaConf.to_container(cfg.get("buildings")) if cfg.get("buildings") is not None else None
    if not isinstance(names, list) or len(names) < 2 or not all(isinstance(b, str) for b in names):
        raise ValueError(f"buildings={names}: list at least two buildings, e.g. buildings=[residential1,residential2]")
    if len(set(names)) != len(names):
        raise ValueError(f"buildings={names}: a building is listed twice")
    try:
        settings = CommunitySettings.model_validate(OmegaConf.to_container(cfg.community, resolve=True))
    except ValidationError as exc:
        raise ValueError("community." + one_line(exc.errors(include_url=False)[0])) from None
    return names, settings


def members_of(cfg: DictConfig, names: list[str]) -> dict[str, Member]:
    """Each listed building with its parts (the configured ones, a battery copy each) and its period."""
    base = Experiment.from_config(cfg)
    unsupported = [  # what the community runner does not do: refused, never silently ignored
        (base.forecast.name != "perfect", f"forecast={base.forecast.name}: the community compares coordination on "
                                          f"the metered days; use forecast=perfect (experiment=community sets it)"),
        (base.mode.name != "centralized", f"mode={base.mode.name}: the community schedules every part of each "
                                          f"building by the MILP; use mode=centralized (experiment=community sets it)"),
        (bool(base.evs), "ev: the community runner schedules no EV (an EV's overnight sessions link days); "
                              "use ev=none"),
        (base.heating is not None, "heating: the community runner plans heat pumps as daily quotas; leave heating unset"),
        (base.learner is not None, "learner: the community runner uses no PMFs; use learner=none"),
        (base.horizon.hours != 24 or bool(base.horizon.replan_hours),
         f"horizon={base.horizon.name}: the community plans each day alone; use horizon=day"),
        (base.planning.name != "deterministic", f"planning={base.planning.name}: use planning=deterministic"),
        (float(base.tariff.demand_eur_kw_month) > 0, "tariff: a community's demand charge is not modelled; use a "
                                                     "tariff without one (dynamic, fixed, tou)"),
    ]
    for refused, message in unsupported:
        if refused:
            raise ValueError(message)
    members = {}
    for name in names:
        try:
            building = instantiate(load_config([f"building={name}"]).building, where="building")
        except Exception as exc:  # noqa: BLE001 - hydra's missing-option error, one line
            raise ValueError(f"buildings: {name!r} is not a building config (conf/building/*.yaml)") from exc
        exp = replace(base, building=building, batteries=copy.deepcopy(base.batteries))
        for battery in exp.batteries:
            battery.reset()
        joint = copy.deepcopy(exp.batteries)
        members[name] = Member(exp, load_period(cfg, building), exp.optimizer(),
                               GlobalOptimizer(building.grid, exp.solver, joint if exp.mode.uses_battery else [],
                                               [], theta=exp.theta))
    return members


def run_community(cfg: DictConfig, output_dir: str | Path | None) -> float:
    """Run the community experiment; print and record its table; return the community's joint cost (EUR)."""
    names, settings = settings_of(cfg)
    if cfg.tracking.enabled:
        check_tracking_uri(cfg.tracking.uri)
    ensure_database(cfg.data)
    members = members_of(cfg, names)
    connection = Grid(max_import_kw=settings.max_import_kw, max_export_kw=settings.max_export_kw)
    rows, skipped, infeasible = [], {}, {}
    for day, problems, buy, sell in common_days(cfg, members, skipped):
        found = _day(day, members, problems, buy, sell, connection, settings)
        if isinstance(found, str):
            infeasible[str(day)] = found
            continue
        rows += found
    if infeasible:
        log.warning("community: %d day(s) left out, a schedule impossible alone or jointly (first: %s)",
                    len(infeasible), next(iter(infeasible.values())))
    if not rows:
        raise ValueError(f"period: no common day could be scheduled for every building (skipped: {skipped}; "
                         f"infeasible: {infeasible})")
    daily = pl.DataFrame(rows)
    table = community_table(daily)
    out = Path(output_dir) if output_dir is not None else Path.cwd()
    out.mkdir(parents=True, exist_ok=True)
    daily.write_csv(out / "daily.csv")
    table.write_csv(out / "community.csv")
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    total = table.filter(pl.col("building") == "community").row(0, named=True)
    summary = {"buildings": names, "days": len(set(daily["local_date"].to_list())), "skipped": skipped,
               "infeasible": infeasible,
               "settings": settings.model_dump(), "assumptions": ASSUMPTIONS, "table": table.to_dicts()}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(format_table(table, names, summary["days"], settings, len(infeasible)))
    if cfg.tracking.enabled:
        _track(cfg, out, table)
    return float(total["joint_cost_eur"])


def common_days(cfg: DictConfig, members: dict[str, Member], skipped: dict[str, int]) -> Iterator[tuple]:
    """(day, each building's posed problem, import and export price per hour (EUR/kWh)) of every local
    day all the members have valid data for, with a progress bar; days one of them cannot pose are counted
    in ``skipped`` by reason."""
    days = {n: {d.day: d for d in m.period.days} for n, m in members.items()}
    common = sorted(set.intersection(*(set(d) for d in days.values())))
    if not common:
        raise ValueError(f"period: the buildings {', '.join(members)} have no valid day in common in the period "
                         f"(period.start={cfg.period.start}, period.n_days={cfg.period.n_days})")
    tariff = next(iter(members.values())).exp.tariff
    for day in tqdm(common, desc=f"community of {len(members)}", unit="day", disable=None):
        problems = {n: pose(days[n][day], m.exp.building, m.exp.replay, m.period.max_kw, []) for n, m in
                    members.items()}
        bad = [f"{n}: {p}" for n, p in problems.items() if isinstance(p, str)]
        if bad:
            skipped[bad[0]] = skipped.get(bad[0], 0) + 1
            continue
        hours = days[next(iter(members))][day].hours
        yield day, problems, tariff.import_price(hours), tariff.export_price(hours)


#: What every output of the community experiment says about its comparison.
ASSUMPTIONS = ("forecast=perfect (the metered base load and PV) for alone and joint alike; mode=centralized "
               "(every flexible device, no PMFs); EV charging fixed as metered; one tariff for every building and "
               "the community; a building's own connection limits its exchange with the community")


def _day(day, members: dict[str, Member], problems: dict, buy: np.ndarray, sell: np.ndarray, connection: Grid,
         settings: CommunitySettings) -> list[dict] | str:
    """One day's rows: each building alone and jointly, and the community; the diagnosis when the day has
    no schedule alone or jointly (the day is then left out of both)."""
    alone_req = {n: m.alone.request(problems[n].needs, buy, sell) for n, m in members.items()}
    joint_req = {n: m.joint.request(problems[n].needs, buy, sell) for n, m in members.items()}
    alone = {n: optimize_day(r) for n, r in alone_req.items()}
    failed = [f"{n}: {'; '.join(a.diagnosis)}" for n, a in alone.items() if not a.ok]
    if failed:
        return f"alone: {failed[0]}"
    started = time.perf_counter()
    joint = optimize_community(joint_req, connection)
    seconds = time.perf_counter() - started
    if not joint.ok:
        return f"jointly: {'; '.join(joint.diagnosis)}"
    for n, m in members.items():
        for battery in m.alone.batteries:
            battery.end_day(alone[n])
        for battery in m.joint.batteries:
            battery.end_day(joint.buildings[n])
    nets = {n: np.asarray(b.import_kw) - np.asarray(b.export_kw) for n, b in joint.buildings.items()}
    inner = internal_price(buy, sell, settings.sharing_price_eur_kwh)
    split, moved, shared = split_costs(nets, buy, sell, inner)
    rows = []
    for n in members:
        a, j, r = alone[n], joint.buildings[n], alone_req[n]
        rows.append({"local_date": day, "building": n, "alone_cost_eur": a.energy_cost_eur,
                     "alone_degradation_eur": a.degradation_eur or 0.0, "joint_cost_eur": split[n],
                     "joint_degradation_eur": j.degradation_eur or 0.0,
                     "alone_import_kwh": float(np.sum(a.import_kw)), "alone_export_kwh": float(np.sum(a.export_kw)),
                     "joint_draw_kwh": float(np.maximum(nets[n], 0).sum()) - moved[n][0],
                     "joint_supply_kwh": float(np.maximum(-nets[n], 0).sum()) - moved[n][1],
                     "pv_kwh": float(np.sum(r.pv_kw)), "alone_curtailed_kwh": float(np.sum(a.pv_curtailed_kw)),
                     "joint_curtailed_kwh": float(np.sum(j.pv_curtailed_kw)),
                     "alone_peak_kw": kpis.peak_import_kw(a.import_kw), "joint_peak_kw": kpis.peak_import_kw(
                         np.maximum(nets[n], 0)), "shared_kwh": moved[n][0] + moved[n][1], "solve_seconds": a.solve_seconds})
    aggregate_alone = sum((np.asarray(a.import_kw) - np.asarray(a.export_kw) for a in alone.values()))
    rows.append({"local_date": day, "building": "community",
                 "alone_cost_eur": float(sum(a.energy_cost_eur for a in alone.values())),
                 "alone_degradation_eur": float(sum(a.degradation_eur or 0.0 for a in alone.values())),
                 "joint_cost_eur": joint.energy_cost_eur,
                 "joint_degradation_eur": float(sum(b.degradation_eur or 0.0 for b in joint.buildings.values())),
                 "alone_import_kwh": float(sum(np.sum(a.import_kw) for a in alone.values())),
                 "alone_export_kwh": float(sum(np.sum(a.export_kw) for a in alone.values())),
                 "joint_draw_kwh": float(np.sum(joint.import_kw)), "joint_supply_kwh": float(np.sum(joint.export_kw)),
                 "pv_kwh": float(sum(np.sum(r.pv_kw) for r in alone_req.values())),
                 "alone_curtailed_kwh": float(sum(np.sum(a.pv_curtailed_kw) for a in alone.values())),
                 "joint_curtailed_kwh": float(sum(np.sum(b.pv_curtailed_kw) for b in joint.buildings.values())),
                 "alone_peak_kw": kpis.peak_import_kw(aggregate_alone), "joint_peak_kw": kpis.peak_import_kw(
                     joint.import_kw), "shared_kwh": float(shared.sum()), "solve_seconds": seconds})
    return rows


def consumption(r: dict) -> float:
    """A building's (or the community's) consumption over the days (kWh): what it imported and used of its
    PV alone (the same plan of its loads jointly moves only where they are served from)."""
    return r["alone_import_kwh"] - r["alone_export_kwh"] + r["pv_kwh"] - r["alone_curtailed_kwh"]


def community_table(daily: pl.DataFrame) -> pl.DataFrame:
    """Per building and for the community over the days: costs alone and jointly (EUR, energy + wear),
    savings and each building's share of the community's savings (%), imports (kWh), self-sufficiency (% of
    consumption not from the grid; jointly, energy from the other buildings counts as the community's own),
    peak import (kW; the community's: of the aggregate at the connection point) and energy shared (kWh: a
    building's taken plus given)."""
    g = daily.group_by("building", maintain_order=True).agg(
        pl.col("alone_cost_eur", "alone_degradation_eur", "joint_cost_eur", "joint_degradation_eur",
               "alone_import_kwh", "alone_export_kwh", "joint_draw_kwh", "joint_supply_kwh", "pv_kwh",
               "alone_curtailed_kwh", "joint_curtailed_kwh", "shared_kwh", "solve_seconds").sum(),
        pl.col("alone_peak_kw", "joint_peak_kw").max(), pl.len().alias("days"))
    g = g.with_columns(alone_total_eur=pl.col("alone_cost_eur") + pl.col("alone_degradation_eur"),
                       joint_total_eur=pl.col("joint_cost_eur") + pl.col("joint_degradation_eur"))
    g = g.with_columns(savings_eur=pl.col("alone_total_eur") - pl.col("joint_total_eur"))
    saved = float(g.filter(pl.col("building") == "community")["savings_eur"][0])
    rows = []
    for r in g.iter_rows(named=True):
        rows.append(r | {
            "savings_pct": kpis.share_pct(r["savings_eur"], abs(r["alone_total_eur"])),
            "share_of_savings_pct": kpis.share_pct(r["savings_eur"], saved) if r["building"] != "community" else 100.0,
            "alone_self_sufficiency_pct": kpis.self_sufficiency_pct([r["alone_import_kwh"]], [r["alone_export_kwh"]],
                                                                    [r["pv_kwh"]], [r["alone_curtailed_kwh"]]),
            "joint_self_sufficiency_pct": kpis.share_pct(consumption(r) - r["joint_draw_kwh"], consumption(r))})
    return pl.DataFrame(rows)


COLUMNS = (("alone_total_eur", "alone EUR", "{:.2f}"), ("joint_total_eur", "joint EUR", "{:.2f}"),
           ("savings_eur", "saved EUR", "{:.2f}"), ("savings_pct", "saved %", "{:.1f}"),
           ("share_of_savings_pct", "share %", "{:.1f}"), ("alone_self_sufficiency_pct", "self-suff. alone %", "{:.1f}"),
           ("joint_self_sufficiency_pct", "joint %", "{:.1f}"), ("alone_peak_kw", "peak alone kW", "{:.2f}"),
           ("joint_peak_kw", "joint kW", "{:.2f}"), ("shared_kwh", "shared kWh", "{:.1f}"))


def format_table(table: pl.DataFrame, names: list[str], days: int, settings: CommunitySettings,
                 infeasible: int = 0) -> str:
    """The printed table: one line per building and the community."""
    price = "midpoint of import and export price" if settings.sharing_price_eur_kwh is None else \
        f"{settings.sharing_price_eur_kwh:g} EUR/kWh"
    lines = [f"community of {len(names)} buildings | {days} common days | connection {settings.max_import_kw:g} kW in / "
             f"{settings.max_export_kw:g} kW out | sharing at {price}", f"({ASSUMPTIONS}; costs = energy + battery wear)",
             f"{'':<14}" + "".join(f"{label:>{len(label) + 2}}" for _, label, _ in COLUMNS)]
    if infeasible:
        lines.insert(2, f"{infeasible} common day(s) left out: no schedule alone or jointly (summary.json: infeasible)")
    for r in table.iter_rows(named=True):
        cells = "".join(f"{'n/a' if r[k] is None or r[k] != r[k] else fmt.format(r[k]):>{len(label) + 2}}"
                        for k, label, fmt in COLUMNS)
        lines.append(f"{r['building']:<14}{cells}")
    return "\n".join(lines)


def _track(cfg: DictConfig, out: Path, table: pl.DataFrame) -> None:
    from ems.experiment.tracking import flatten

    recorder = Recorder(TrackingTarget(cfg.tracking.uri, cfg.name, cfg.tracking.artifact_root), background=False)
    run = recorder.start(cfg.name, flatten(cfg), {"building": "community"}, None)
    metrics = {f"{r['building']}/{k}": float(r[k]) for r in table.iter_rows(named=True) for k, *_ in COLUMNS
               if r[k] is not None}
    recorder.log_totals(run, metrics)
    recorder.finish(run, out)
    recorder.close()
