"""The evaluation's money sections: cost savings by scenario (seed 4.3.1), methods (4.3.5), PV
self-consumption (4.3.3) and sensitivity (appendix C.3). Each section lists its experiment jobs and
turns their KPI totals into tables, plots and claims."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from ems.config import instantiate, load_config
from ems.evaluation.claims import SEED
from ems.evaluation.jobs import Job, JobResult
from ems.evaluation.report import Claim, Section, Table, cell, span, verdict
from ems.evaluation.settings import EvaluationSettings, Window
from ems.experiment import kpis
from ems.figures import plt, save_figure  # Agg, or a notebook's own backend

#: Average days per month (EUR/month = EUR/day x this).
DAYS_PER_MONTH = 365.25 / 12
#: A job that only settles (baseline) or only needs the plan's KPIs skips the bound and its replay.
NO_REGRET = "regret.enabled=false"


def window(w: Window) -> list[str]:
    return [f"period.start={w.start.isoformat()}", f"period.n_days={w.n_days}"]


@functools.lru_cache(maxsize=32)
def _devices(building: str) -> dict[str, str]:
    return dict(instantiate(load_config([f"building={building}"]).building).devices)


def has_pv(building: str) -> bool:
    return "generation" in _devices(building).values()


def has_export_meter(building: str) -> bool:
    """Whether the building meters its export (without one, PV self-consumption cannot be measured)."""
    return "grid_export" in _devices(building)


def _weight(w: Window, passes: float) -> float:
    return w.n_days * passes


# ---- jobs -----------------------------------------------------------------------------------------------

def savings_jobs(s: EvaluationSettings) -> list[Job]:
    """One run per building and scenario over the year, with its bound and the regret split."""
    return [Job(f"savings/{b}/{key}", (f"building={b}", *window(s.year), f"forecast={s.forecast}", *v.overrides),
                _weight(s.year, 3)) for b in s.buildings for key, v in s.scenarios.items()]


def methods_jobs(s: EvaluationSettings) -> list[Job]:
    return [Job(f"methods/{b}/{key}", (f"building={b}", *window(s.methods), f"forecast={s.forecast}", *v.overrides,
                                       NO_REGRET), _weight(s.methods, 1)) for b in s.buildings
            for key, v in s.compared.items()]


def pv_jobs(s: EvaluationSettings) -> list[Job]:
    """The metered baseline and the centralized plan with a battery; without one is the Cost Only run."""
    out = []
    for b in (b for b in s.buildings if has_pv(b) and has_export_meter(b)):
        base = (f"building={b}", *window(s.year), f"forecast={s.forecast}", NO_REGRET)
        out += [Job(f"pv/{b}/baseline", (*base, "mode=baseline", "battery=none"), _weight(s.year, 0.3)),
                Job(f"pv/{b}/battery", (*base, "mode=centralized", "battery=home"), _weight(s.year, 1)),
                *[j for j in savings_jobs(s) if j.name == f"savings/{b}/cost_only"]]
    return out


def sensitivity_jobs(s: EvaluationSettings) -> list[Job]:
    c = s.sensitivity
    base = (f"building={c.building}", *window(c.window), NO_REGRET)
    jobs = [Job(f"sensitivity/battery_{kwh:g}", (*base, f"forecast={s.forecast}", "mode=centralized", "battery=home",
                                                 f"battery.capacity_kwh={kwh}")) for kwh in c.battery_kwh]
    jobs += [Job(f"sensitivity/w_prob_{w:g}", (*base, f"forecast={s.forecast}", "mode=phases", f"mode.w_prob={w}"))
             for w in c.w_prob]
    jobs += [Job(f"sensitivity/price_{p}", (*base, f"forecast={s.forecast}", "mode=phases", "battery=home",
                                            "horizon=receding", f"horizon.price_forecast={p}"))
             for p in c.price_forecast]
    jobs += [Job(f"sensitivity/forecast_{f}", (*base, f"forecast={f}", "mode=phases")) for f in c.forecasts]
    return jobs


# ---- sections -------------------------------------------------------------------------------------------

def _get(results: dict[str, JobResult], name: str) -> dict[str, float]:
    r = results.get(name)
    return r.totals if r is not None and not r.error else {}


def _configs(results: dict[str, JobResult], prefix: str, out: Path) -> list[tuple[str, str]]:
    return [(name, str(r.config_path.relative_to(out))) for name, r in sorted(results.items())
            if name.startswith(prefix) and r.config_path.is_file()]


def _notes(results: dict[str, JobResult], prefix: str) -> list[str]:
    """A line for each run that failed, and for each with no valid day (its days skipped, and why)."""
    out = []
    for name, r in sorted(results.items()):
        if not name.startswith(prefix):
            continue
        if r.error:
            out.append(f"**Failed run** {name}: {r.error}")
        elif not r.totals.get("days"):
            skipped = json.loads((r.folder / "summary.json").read_text()).get("skipped", {})
            out.append(f"**No valid day** in {name} (its cells read n/a): " +
                       "; ".join(f"{n} days: {why}" for why, n in skipped.items()))
    return out


def savings_section(s: EvaluationSettings, results: dict[str, JobResult], out: Path) -> Section:
    rows, pcts, sat, bars = [], [], [], {}
    for b in s.buildings:
        for key, v in s.scenarios.items():
            t = _get(results, f"savings/{b}/{key}")
            bound_pct = (kpis.savings(t["baseline_cost_eur"], t["bound_cost_eur"], t["baseline_import_cost_eur"])[1]
                         if "bound_cost_eur" in t else float("nan"))
            rows.append([b, v.label, cell(t.get("days"), "{:.0f}"), cell(t.get("baseline_cost_eur")),
                         cell(t.get("energy_cost_eur")), cell(t.get("savings_eur")), cell(t.get("savings_pct")),
                         cell(t.get("bound_cost_eur")), cell(bound_pct), cell(t.get("regret_eur")),
                         cell(t.get("regret_forecast_eur")), cell(t.get("regret_horizon_eur")),
                         cell(t.get("preference_satisfaction_pct"), "{:.1f}")])
            pcts.append(t.get("savings_pct", float("nan")))
            if key != "cost_only":
                sat.append(t.get("preference_satisfaction_pct", float("nan")))
            bars[b, key] = (t.get("savings_pct", np.nan), bound_pct)
    plot = _grouped_bars(bars, s.buildings, {k: v.label for k, v in s.scenarios.items()}, "savings, % of import cost",
                         f"savings by scenario, {s.year.start} + {s.year.n_days} days (dots: perfect-foresight bound)",
                         out / "savings.png")
    table = Table(["building", "scenario", "days", "baseline EUR", "cost EUR", "savings EUR", "savings %",
                   "bound EUR", "bound savings %", "regret EUR", "of it: forecast", "of it: horizon",
                   "satisfaction %"], rows,
                  f"{s.year.start} + {s.year.n_days} days (the building's valid days in it), day-ahead prices, "
                  f"forecast={s.forecast}; savings against the metered household; % of the baseline's import cost")
    text = ["Scenarios: " + "; ".join(f"{v.label} = `{' '.join(v.overrides)}`" for v in s.scenarios.values())
            + ". `ev=home` charges an EV only where the building has an EV meter (residential4).",
            *_notes(results, "savings/")]
    claims = [Claim(SEED["savings"], f"{span(pcts)} %", verdict(pcts, 12.0, 38.0)),
              Claim(SEED["satisfaction"], f"{span(sat)} % (preference scenarios)", verdict(sat, 85.0))]
    return Section("savings", "Cost savings per building and scenario", "report section 4.3.1, Table 4.2",
                   text, [table], [plot.name], claims, _configs(results, "savings/", out))


def methods_section(s: EvaluationSettings, results: dict[str, JobResult], out: Path) -> Section:
    rows, mean, sat = [], {k: [] for k in s.compared}, []
    for b in s.buildings:
        for key, v in s.compared.items():
            t = _get(results, f"methods/{b}/{key}")
            month = DAYS_PER_MONTH / t["days"] if t.get("days") else float("nan")
            saved, shifted = t.get("savings_eur", np.nan) * month, t.get("kwh_shifted", np.nan) * month
            rows.append([b, v.label, cell(t.get("days"), "{:.0f}"), cell(saved), cell(shifted, "{:.1f}"),
                         cell(t.get("preference_satisfaction_pct"), "{:.1f}"), cell(t.get("battery_cycles"), "{:.1f}")])
            mean[key].append((saved, shifted, t.get("preference_satisfaction_pct", np.nan)))
            if key in ("deterministic", "probabilistic"):
                sat.append(t.get("preference_satisfaction_pct", np.nan))
    summary = [[v.label, *(cell(float(np.nanmean([m[i] for m in mean[k]])) if mean[k] else None, f)
                           for i, f in enumerate(("{:.2f}", "{:.1f}", "{:.1f}")))]
               for k, v in s.compared.items()]
    fig, ax = plt.subplots(figsize=(9, 4))
    x = np.arange(len(s.buildings))
    width = 0.8 / len(s.compared)
    for i, key in enumerate(s.compared):
        ax.bar(x + i * width, [m[0] for m in mean[key]], width, label=s.compared[key].label)
    ax.set_xticks(x + width * (len(s.compared) - 1) / 2, s.buildings)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel("savings, EUR/month")
    ax.set_title(f"methods, {s.methods.start} + {s.methods.n_days} days, home battery")
    ax.legend(fontsize=8)
    save_figure(fig, out / "methods.png")
    caption = (f"{s.methods.start} + {s.methods.n_days} days, home battery, forecast={s.forecast}; EUR and kWh per "
               f"month = per day x {DAYS_PER_MONTH:.2f}; satisfaction: starts within replay.satisfaction_tolerance_h "
               "of the household's metered start (issue 14)")
    tables = [Table(["method", "savings EUR/month", "kWh shifted/month", "satisfaction %"], summary,
                    "mean over the buildings; " + caption),
              Table(["building", "method", "days", "savings EUR/month", "kWh shifted/month", "satisfaction %",
                     "battery cycles"], rows, caption)]
    claims = [Claim(SEED["satisfaction"], f"{span(sat)} % (MILP methods)", verdict(sat, 85.0))]
    return Section("methods", "Method comparison", "report section 4.3.5", _notes(results, "methods/"), tables,
                   ["methods.png"], claims, _configs(results, "methods/", out))


def pv_section(s: EvaluationSettings, results: dict[str, JobResult], out: Path) -> Section:
    rows, stages = [], {"baseline": [], "no battery": [], "battery": []}
    names = {"baseline": "pv/{b}/baseline", "no battery": "savings/{b}/cost_only", "battery": "pv/{b}/battery"}
    buildings = [b for b in s.buildings if has_pv(b) and has_export_meter(b)]
    unmetered = [b for b in s.buildings if has_pv(b) and not has_export_meter(b)]
    for b in buildings:
        t = {k: _get(results, n.format(b=b)) for k, n in names.items()}
        rows.append([b, *(cell(t[k].get("pv_self_consumption_pct"), "{:.1f}") for k in names),
                     *(cell(t[k].get("self_sufficiency_pct"), "{:.1f}") for k in names)])
        for k in names:
            stages[k].append(t[k].get("pv_self_consumption_pct", np.nan))
    fig, ax = plt.subplots(figsize=(8, 4))
    x = np.arange(len(buildings))
    for i, (k, values) in enumerate(stages.items()):
        ax.bar(x + i * 0.27, values, 0.27, label=k)
    for i, claim in enumerate((42, 68, 87)):
        ax.axhline(claim, color=f"C{i}", ls=":", lw=1)
    ax.set_xticks(x + 0.27, buildings)
    ax.set_ylabel("PV self-consumption, %")
    ax.set_title("PV self-consumption (dotted: the seed's 42 / 68 / 87 %)")
    ax.legend(fontsize=8)
    save_figure(fig, out / "pv.png")
    claims = [Claim(SEED[f"pv_{k.replace(' ', '_')}"], f"{span(v)} %", verdict(v, claim - s.point_tolerance_pct,
                                                                             claim + s.point_tolerance_pct))
              for (k, v), claim in zip(stages.items(), (42.0, 68.0, 87.0))]
    caption = (f"{s.year.start} + {s.year.n_days} days; baseline: the metered household; no battery: centralized "
               "MILP (the Cost Only run); battery: centralized MILP with battery=home (10 kWh). Self-consumption: "
               "PV used in the house / PV generated; self-sufficiency: load served by PV / load")
    table = Table(["building", "self-consumption baseline %", "no battery %", "battery %", "self-sufficiency "
                   "baseline %", "no battery %", "battery %"], rows, caption)
    text = [f"Buildings with PV and an export meter: {', '.join(buildings)}; a point claim agrees when every measured "
            f"value is within {s.point_tolerance_pct:g} points of it."]
    if unmetered:
        text.append(f"Left out: {', '.join(unmetered)} (PV but no grid_export meter: what the PV exported is not "
                    "metered, so its self-consumption would read 100 % whatever happened).")
    text += _notes(results, "pv/")
    return Section("pv", "PV self-consumption and self-sufficiency", "report section 4.3.3", text, [table], ["pv.png"],
                   claims, _configs(results, "pv/", out))


def sensitivity_section(s: EvaluationSettings, results: dict[str, JobResult], out: Path) -> Section:
    c = s.sensitivity
    grids = {
        "battery capacity kWh": [(f"{k:g}", _get(results, f"sensitivity/battery_{k:g}")) for k in c.battery_kwh],
        "preference weight w_prob EUR": [(f"{w:g}", _get(results, f"sensitivity/w_prob_{w:g}")) for w in c.w_prob],
        "price forecast beyond the day": [(p, _get(results, f"sensitivity/price_{p}")) for p in c.price_forecast],
        "load and PV forecast": [(f, _get(results, f"sensitivity/forecast_{f}")) for f in c.forecasts],
    }
    tables, flat = [], []
    for knob, points in grids.items():
        costs = [t["energy_cost_eur"] for _, t in points if "energy_cost_eur" in t]
        if len(costs) > 1 and max(costs) - min(costs) < 0.005:
            flat.append(f"**{knob}** changed nothing here: every run costs {costs[0]:.2f} EUR to the cent.")
    fig, axes = plt.subplots(1, len(grids), figsize=(4 * len(grids), 3.6))
    for ax, (knob, points) in zip(np.atleast_1d(axes), grids.items()):
        tables.append(Table([knob, "cost EUR", "savings EUR", "savings %", "satisfaction %", "battery cycles"],
                            [[label, cell(t.get("energy_cost_eur")), cell(t.get("savings_eur")),
                              cell(t.get("savings_pct")), cell(t.get("preference_satisfaction_pct"), "{:.1f}"),
                              cell(t.get("battery_cycles"), "{:.1f}")] for label, t in points]))
        ax.plot(range(len(points)), [p[1].get("savings_eur", np.nan) for p in points], marker="o")
        ax.set_xticks(range(len(points)), [p[0] for p in points])
        ax.set_xlabel(knob)
        ax.set_ylabel("savings EUR")
    fig.suptitle(f"sensitivity, {c.building}, {c.window.start} + {c.window.n_days} days")
    save_figure(fig, out / "sensitivity.png")
    text = [f"{c.building}, {c.window.start} + {c.window.n_days} days. Battery capacity: centralized MILP with "
            "battery=home; preference weight: phases with the learned prior; price forecast: the 36 h receding "
            "horizon with battery=home (what is left in it at midnight is what tomorrow's prices are for), whose hours "
            "after midnight are priced as known (perfect) or as a week before (last_week) - "
            "the only price-forecast error ems has, since a day's own day-ahead prices are published before it is "
            "planned; load and PV forecast: phases planned on each forecast.", *flat, *_notes(results, "sensitivity/")]
    return Section("sensitivity", "Sensitivity", "appendix C.3", text, tables, ["sensitivity.png"], [],
                   _configs(results, "sensitivity/", out))


def _grouped_bars(values: dict, buildings: list[str], labels: dict[str, str], ylabel: str, title: str,
                  path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(9, 4))
    x = np.arange(len(buildings))
    width = 0.8 / len(labels)
    for i, key in enumerate(labels):
        bars = [values.get((b, key), (np.nan, np.nan)) for b in buildings]
        ax.bar(x + i * width, [v[0] for v in bars], width, label=labels[key], color=f"C{i}")
        ax.scatter(x + i * width, [v[1] for v in bars], color=f"C{i}", edgecolor="black", zorder=3, s=18)
    ax.set_xticks(x + width * (len(labels) - 1) / 2, buildings)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
