"""The evaluation's learning sections: usage prediction (seed 4.3.7), convergence of the PMF learners
(4.3.8) and adaptation (4.3.10), computed per building on its whole record."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from ems.config import instantiate, load_config
from ems.data.calendar import WHOLE_RECORD, day_type
from ems.data.store import Store
from ems.evaluation.claims import SEED
from ems.evaluation.report import Claim, Section, Table, cell, span, verdict
from ems.evaluation.settings import Convergence
from ems.figures import plt, save_figure  # Agg, or a notebook's own backend
from ems.learning.adaptation import (
    EXPERIMENTS,
    SYNTHETIC,
    AdaptationSettings,
    change_days,
    days_to_adapt,
)
from ems.learning.benchmark import targets
from ems.learning.learners import LEARNERS
from ems.learning.pmf import js_divergence
from ems.learning.usage import load_usage

METRICS = ("roc_auc", "f1")


def _building(building_id: str, overrides: list[str]):
    cfg = load_config([f"building={building_id}", "learner=adaptive", *overrides])
    return cfg, instantiate(cfg.building), instantiate(cfg.learner.runs)


def prediction_rows(building_id: str, overrides: list[str]) -> list[dict]:
    """Per device of the building: daily and hourly ROC AUC and F1 of the usage models and their frequency
    baselines on the test days after all training days (what ``python -m ems train`` reports, not logged)."""
    from ems.learning.train import fit_building

    cfg, building, runs = _building(building_id, overrides)
    rows = []
    with Store(cfg.data.db, cfg.data.timezone) as store:
        for fitted in fit_building(store, building, instantiate(cfg.predictor), runs):
            r = fitted.report
            row = {"building": building.id, "device": r.device, "skipped": r.skipped}
            for kind, model, base in (("daily", r.daily, r.daily_baseline), ("hourly", r.hourly, r.hourly_baseline)):
                for m in METRICS:
                    row[f"{kind}_{m}"], row[f"{kind}_{m}_baseline"] = model.get(m, np.nan), base.get(m, np.nan)
            rows.append(row)
    return rows


def learning_rows(building_id: str, overrides: list[str], c: Convergence) -> tuple[list[dict], list[dict]]:
    """(convergence rows: building, device, learner, days, steps; adaptation rows: building, device,
    experiment, learner -> days) over every usage device of the building."""
    cfg, building, runs = _building(building_id, overrides)
    with Store(cfg.data.db, cfg.data.timezone) as store:
        usage = load_usage(store, building, *WHOLE_RECORD, runs)
    discrete = set(building.devices_of("discrete_phase"))
    converge, adapt = [], []
    for device in building.usage_devices():
        days = sorted(usage.learnable_days.get(device, ()))
        if not days:
            continue
        by_day = targets(usage, device, device in discrete)
        used = [d for d in days if by_day[d].sum() > 0]
        for name, cls in LEARNERS.items():
            steps = _js_steps(cls(), device, days, by_day)
            converge.append({"building": building.id, "device": device, "learner": name, "record_days": len(days),
                             "used_days": len(used), "days": converged_after(used, steps, c, days[0]),
                             "steps": steps})
        if device in discrete:
            settings = AdaptationSettings()
            for experiment, change in change_days(usage, device, settings).items():
                adapt.append({"building": building.id, "device": device, "experiment": experiment,
                              "days": days_to_adapt(usage, device, experiment, change, settings)})
    return converge, adapt


def _js_steps(learner, device: str, days: list[date], by_day: dict) -> list[float]:
    """JS(PMF before, PMF after) of each day with usage, in day order (nats); the learner sees every
    learnable day (a day without usage changes a forgetting learner too), but only a day with usage is a
    step of learning: a run of empty days must not pass for convergence."""
    steps = []
    for day in days:
        kind = day_type(day)
        before = np.array(learner.pmf(device, kind), float)
        learner.observe(device, day, kind, by_day[day])
        if by_day[day].sum() > 0:
            steps.append(js_divergence(before, np.array(learner.pmf(device, kind), float)))
    return steps


def converged_after(days: list[date], steps: list[float], c: Convergence, first: date | None = None) -> int | None:
    """Days from ``first`` (default ``days[0]``) to the first of ``days`` (one per step) from which
    ``hold_days`` steps in a row stay below ``threshold``; None when that never happens."""
    below = np.asarray(steps) < c.threshold
    start = first or (days[0] if days else None)
    for i in range(len(steps) - c.hold_days + 1):
        if below[i:i + c.hold_days].all():
            return (days[i] - start).days
    return None


def prediction_section(rows: list[dict], out: Path) -> Section:
    kept = [r for r in rows if not r["skipped"]]
    table = Table(["building", "device", *(f"{k} {m} (model / baseline)" for k in ("daily", "hourly")
                                           for m in ("ROC AUC", "F1"))],
                  [[r["building"], r["device"], *(f"{cell(r[f'{k}_{m}'], '{:.3f}')} / "
                                                  f"{cell(r[f'{k}_{m}_baseline'], '{:.3f}')}"
                                                  for k in ("daily", "hourly") for m in METRICS)] for r in kept],
                  "test days after all training and validation days (predictor config); baselines: day-of-week "
                  "frequency (daily), hour x day-type frequency (hourly); hourly target: start hours of "
                  "discrete-phase devices, used hours of the others")
    by_type = {}
    for r in kept:
        by_type.setdefault(r["device"], []).append(r)
    summary = Table(["device type", "buildings", *(f"{k} {m} (model / baseline)" for k in ("daily", "hourly")
                                                  for m in ("ROC AUC", "F1"))],
                    [[device, str(len(rs)), *(f"{cell(float(np.nanmean([r[f'{k}_{m}'] for r in rs])), '{:.3f}')} / "
                                              f"{cell(float(np.nanmean([r[f'{k}_{m}_baseline'] for r in rs])), '{:.3f}')}"
                                              for k in ("daily", "hourly") for m in METRICS)]
                     for device, rs in sorted(by_type.items())], "mean over the buildings that have the device")
    skipped = [f"{r['building']} {r['device']}: skipped ({r['skipped']})" for r in rows if r["skipped"]]
    aucs = [r[f"{k}_roc_auc"] for r in kept for k in ("daily", "hourly")]
    beats = sum(r[f"{k}_roc_auc"] > r[f"{k}_roc_auc_baseline"] for r in kept for k in ("daily", "hourly"))
    fig, ax = plt.subplots(figsize=(6, 5))
    for i, k in enumerate(("daily", "hourly")):
        ax.scatter([r[f"{k}_roc_auc_baseline"] for r in kept], [r[f"{k}_roc_auc"] for r in kept], label=k, color=f"C{i}")
    ax.plot([0.4, 1], [0.4, 1], color="grey", ls="--")
    ax.axhspan(0.83, 0.94, color="C2", alpha=0.15, label="seed's claim")
    ax.set_xlabel("frequency baseline ROC AUC")
    ax.set_ylabel("model ROC AUC")
    ax.set_title("usage prediction, test days")
    ax.legend(fontsize=8)
    save_figure(fig, out / "prediction.png")
    text = [f"The models beat their frequency baseline (higher ROC AUC) on {beats} of {len(aucs)} (device, model) "
            "pairs. F1 is taken at the probability 0.5: an appliance starts in few hours of a day, its hourly "
            "probabilities stay below 0.5, so its hourly F1 is 0 for model and baseline alike.", *skipped]
    claims = [Claim(SEED["auc"], f"{span(aucs, '{:.3f}')} (daily and hourly, every device)",
                    verdict(aucs, 0.83, 0.94))]
    return Section("prediction", "Usage prediction", "report section 4.3.7", text, [summary, table],
                   ["prediction.png"], claims)


def convergence_section(rows: list[dict], c: Convergence, out: Path) -> Section:
    keyed = {(r["building"], r["device"]): {} for r in rows}
    for r in rows:
        keyed[r["building"], r["device"]][r["learner"]] = r
    table = Table(["building", "device", "record days", "days with usage", *LEARNERS],
                  [[b, d, str(next(iter(v.values()))["record_days"]), str(next(iter(v.values()))["used_days"]),
                    *(_days(v[name]["days"]) for name in LEARNERS)] for (b, d), v in keyed.items()],
                  f"days from the device's first learnable day until JS(step), the JS divergence between the PMF "
                  f"before and after a day with usage, stays below {c.threshold:g} nats for {c.hold_days} such days "
                  "in a row (`never`: not in the record)")
    seed_days = [float(r["days"]) for r in rows if r["learner"] == "seed" and r["days"] is not None]
    never = sum(r["days"] is None for r in rows if r["learner"] == "seed")
    fig, ax = plt.subplots(figsize=(9, 4))
    for i, r in enumerate(r for r in rows if r["learner"] == "seed"):
        ax.plot(np.maximum(r["steps"][:365], 1e-6), lw=0.8, label=f"{r['building']} {r['device']}")
    ax.axhline(c.threshold, color="black", ls="--", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("day with usage")
    ax.set_ylabel("JS(step), nats")
    ax.set_title("seed learner: JS between consecutive PMFs (first year)")
    ax.legend(fontsize=6, ncol=3)
    save_figure(fig, out / "convergence.png")
    claims = [Claim(SEED["convergence"], f"{span(seed_days, '{:.0f}')} days (seed learner)"
                    + (f"; {never} never" if never else ""), verdict(seed_days + [np.inf] * never, 15.0, 20.0))]
    return Section("convergence", "Convergence of the usage PMFs", "report section 4.3.8", [], [table],
                   ["convergence.png"], claims)


def adaptation_section(rows: list[dict]) -> Section:
    tables, seed_shift = [], []
    for experiment in EXPERIMENTS:
        mine = [r for r in rows if r["experiment"] == experiment]
        label = "SYNTHETIC: the change was made to the real data" if experiment in SYNTHETIC else "real data"
        body = [[r["building"], r["device"], *(_days(r["days"][n]) for n in LEARNERS)] for r in mine]
        medians = []
        for n in LEARNERS:
            finite = [r["days"][n] for r in mine if r["days"][n] is not None]
            medians.append(f"{np.median(finite):.0f}" if finite else "n/a")
        body.append(["median", "", *medians])
        tables.append(Table(["building", "device", *LEARNERS], body, f"{experiment} ({label}): days to adapt"))
        if experiment == "habit_shift":
            seed_shift = [float(r["days"]["seed"]) if r["days"]["seed"] is not None else np.inf for r in mine]
    text = ["Days from the change's end until a learner's held-out NLL over the last 14 days is back within 5 % of "
            "its level before the change (ems/learning/adaptation.py); discrete-phase devices. The vacation, habit "
            "shift and replacement changes are **synthetic** (made to the real data), the season change is real."]
    finite = [v for v in seed_shift if np.isfinite(v)]
    claims = [Claim(SEED["adaptation"], f"{span(finite, '{:.0f}')} days (seed learner, habit shift)" +
                    (f"; {len(seed_shift) - len(finite)} never" if len(finite) < len(seed_shift) else ""),
                    verdict(seed_shift, 5.0, 10.0))]
    return Section("adaptation", "Adaptation", "report section 4.3.10", text, tables, [], claims)


def _days(value: int | None) -> str:
    return "never" if value is None else str(value)
