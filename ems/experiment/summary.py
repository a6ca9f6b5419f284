"""Totals of a replay and the tables printed at the end of a run."""

from __future__ import annotations

import math

import polars as pl

from ems.experiment import kpis
from ems.experiment.replay import ReplayOutcome
from ems.forecasting import skill

#: (key, label, unit, format) of the KPIs shown in tables, in order.
ROWS = [
    ("days", "days scheduled", "", "{:.0f}"),
    ("skipped_days", "days skipped (data)", "", "{:.0f}"),
    ("infeasible_days", "days infeasible (mode)", "", "{:.0f}"),
    ("energy_cost_eur", "energy cost", "EUR", "{:.2f}"),
    ("baseline_cost_eur", "baseline cost", "EUR", "{:.2f}"),
    ("metered_cost_eur", "metered bill (intra-hour)", "EUR", "{:.2f}"),
    ("demand_charge_eur", "demand charge", "EUR", "{:.2f}"),
    ("baseline_demand_charge_eur", "baseline demand charge", "EUR", "{:.2f}"),
    ("savings_eur", "savings", "EUR", "{:.2f}"),
    ("savings_pct", "savings (of import cost)", "%", "{:.2f}"),
    ("peak_import_kw", "peak import", "kW", "{:.2f}"),
    ("peak_reduction_pct", "peak reduction", "%", "{:.1f}"),
    ("pv_self_consumption_pct", "PV self-consumption", "%", "{:.1f}"),
    ("self_sufficiency_pct", "self-sufficiency", "%", "{:.1f}"),
    ("kwh_shifted", "energy shifted", "kWh", "{:.1f}"),
    ("battery_cycles", "battery full cycles", "", "{:.1f}"),
    ("preference_satisfaction_pct", "preference satisfaction", "%", "{:.1f}"),
    ("starts_in_pmf_pct", "starts in the PMF's hours", "%", "{:.1f}"),
    ("jobs_widened", "jobs whose PMF hours widened", "", "{:.0f}"),
    ("heat_pump_kwh", "heat pump energy", "kWh", "{:.1f}"),
    ("comfort_violation_kh", "comfort band violation", "K h", "{:.1f}"),
    ("comfort_hours_outside", "hours outside the band", "h", "{:.0f}"),
    ("deviation_min_k", "coldest deviation", "K", "{:.2f}"),
    ("deviation_max_k", "warmest deviation", "K", "{:.2f}"),
    ("deviation_mean_k", "mean deviation", "K", "{:.2f}"),
    ("learning_score", "learning score (nats/event)", "", "{:.3f}"),
    ("base_mae_kw", "base load forecast MAE", "kW", "{:.3f}"),
    ("base_mae_skill_pct", "base load skill vs naive", "%", "{:.1f}"),
    ("pv_mae_kw", "PV forecast MAE", "kW", "{:.3f}"),
    ("pv_mae_skill_pct", "PV skill vs naive", "%", "{:.1f}"),
    ("bound_cost_eur", "bound (perfect foresight)", "EUR", "{:.2f}"),
    ("regret_eur", "regret", "EUR", "{:.2f}"),
    ("regret_pct", "regret (of import cost)", "%", "{:.2f}"),
    ("regret_forecast_eur", "  of it: forecast", "EUR", "{:.2f}"),
    ("regret_horizon_eur", "  of it: horizon", "EUR", "{:.2f}"),
    ("build_seconds", "model build time", "s", "{:.2f}"),
    ("solve_seconds", "solve time", "s", "{:.2f}"),
]

#: Rows shown only when some run has them (a tariff with a demand charge).
OPTIONAL_ROWS = ("demand_charge_eur", "baseline_demand_charge_eur", "heat_pump_kwh", "comfort_violation_kh",
                 "comfort_hours_outside", "deviation_min_k", "deviation_max_k", "deviation_mean_k")

#: KPIs where more is better (a report ranks them highest first; a Pareto front maximises them).
MAXIMIZED = ("learning_score", "savings_eur", "savings_pct", "preference_satisfaction_pct", "starts_in_pmf_pct",
             "pv_self_consumption_pct", "self_sufficiency_pct", "peak_reduction_pct")

#: Every KPI a run reports (what ``objective`` may name; learner metrics come on top).
KPI_NAMES = (*(key for key, *_ in ROWS), "import_kwh", "export_kwh", "pv_kwh")


def totals(outcome: ReplayOutcome) -> dict[str, float]:
    """Whole-period KPIs from the per-day records (percentages from the summed energies)."""
    d = outcome.daily
    skipped = float(sum(outcome.skipped.values()))
    if d.is_empty():
        return {"days": 0.0, "skipped_days": skipped, "infeasible_days": 0.0}
    s = {c: float(d[c].sum()) for c in d.columns if d[c].dtype.is_numeric() and c not in ("hours",)}
    demand = _demand_totals(d)
    saved, saved_pct = kpis.savings(s["baseline_cost_eur"] + demand.get("baseline_demand_charge_eur", 0.0),
                                    s["energy_cost_eur"] + demand.get("demand_charge_eur", 0.0),
                                    s["baseline_import_cost_eur"])
    peak, base_peak = float(d["peak_import_kw"].max()), float(d["baseline_peak_import_kw"].max())
    used_pv = [s["pv_kwh"]], [s["export_kwh"]], [s["curtailed_kwh"]]
    return {
        "days": float(d.height), "skipped_days": skipped, "infeasible_days": float(d["infeasible"].sum()),
        "energy_cost_eur": s["energy_cost_eur"], "baseline_cost_eur": s["baseline_cost_eur"],
        "baseline_import_cost_eur": s["baseline_import_cost_eur"],
        "metered_cost_eur": s["metered_cost_eur"],
        "savings_eur": saved, "savings_pct": saved_pct,
        "peak_import_kw": peak, "peak_reduction_pct": kpis.peak_reduction_pct(base_peak, peak),
        "pv_self_consumption_pct": kpis.pv_self_consumption_pct(*used_pv),
        "self_sufficiency_pct": kpis.self_sufficiency_pct([s["import_kwh"]], [s["export_kwh"]], [s["pv_kwh"]],
                                                          [s["curtailed_kwh"]]),
        "kwh_shifted": s["kwh_shifted"], "battery_cycles": s["battery_cycles"],
        "preference_satisfaction_pct": kpis.share_pct(s["starts_as_household"], s["starts"]),
        "starts_in_pmf_pct": kpis.share_pct(s["starts_preferred"], s["starts"]),
        "jobs_widened": s["jobs_widened"],
        "build_seconds": s["build_seconds"], "solve_seconds": s["solve_seconds"],
        "import_kwh": s["import_kwh"], "export_kwh": s["export_kwh"], "pv_kwh": s["pv_kwh"],
        **demand, **_forecast_totals(d), **_comfort_totals(d), **_unit_totals(d),
    }


#: Per-unit columns of a house with several batteries or EVs (``<name><suffix>``; ems.experiment.replay._units)
#: and the label of their table row.
UNIT_SUFFIXES = {"_cycles": "full cycles", "_charge_kwh": "charged kWh", "_discharge_kwh": "discharged kWh"}
#: The every-run columns of the batteries together (not a unit).
FLEET_TOTALS = ("battery_cycles", "battery_charge_kwh", "battery_discharge_kwh")


def unit_columns(d: pl.DataFrame) -> list[str]:
    """The daily columns of each battery and EV by name (``garage_cycles``, ``ev2_charge_kwh``, ...); none for a
    house with at most one of each (the fleet totals are battery_cycles and the rest)."""
    return [c for c in d.columns if c.endswith(tuple(UNIT_SUFFIXES)) and c not in FLEET_TOTALS]


def _unit_totals(d: pl.DataFrame) -> dict[str, float]:
    """Each battery's and EV's charge and discharge (kWh) and each battery's full cycles over the period."""
    return {c: float(d[c].sum()) for c in unit_columns(d)}


def _comfort_totals(d: pl.DataFrame) -> dict[str, float]:
    """With a heating group: the heat pump's energy (kWh), the K-hours and hours outside the comfort band,
    the coldest / warmest deviation from the metered path (K) and its mean over the hours (K; below 0: the
    plan keeps the house cooler than the metered operation did) over the scheduled days."""
    if "comfort_violation_kh" not in d.columns:
        return {}
    return {"heat_pump_kwh": float(d["heat_pump_kwh"].sum()), "comfort_violation_kh": float(d["comfort_violation_kh"].sum()),
            "comfort_hours_outside": float(d["comfort_hours_outside"].sum()),
            "deviation_min_k": float(d["deviation_min_k"].min()), "deviation_max_k": float(d["deviation_max_k"].max()),
            "deviation_mean_k": float(d["deviation_mean_kh"].sum()) / float(d["hours"].sum())}


def _demand_totals(d: pl.DataFrame) -> dict[str, float]:
    """The demand charges of the plan and of the baseline: each calendar month's peak import (of its
    replayed days) at the month's rate; none without a demand charge. A month the period covers only in
    part is billed on its replayed days' peak."""
    if "demand_eur_kw_month" not in d.columns or not (d["demand_eur_kw_month"] > 0).any():
        return {}
    months = d.group_by(pl.col("local_date").dt.strftime("%Y-%m")).agg(
        pl.col("peak_import_kw").max(), pl.col("baseline_peak_import_kw").max(), pl.col("demand_eur_kw_month").max())
    return {"demand_charge_eur": kpis.demand_charge_eur(months["peak_import_kw"], months["demand_eur_kw_month"]),
            "baseline_demand_charge_eur": kpis.demand_charge_eur(months["baseline_peak_import_kw"],
                                                                 months["demand_eur_kw_month"])}


def _forecast_totals(d: pl.DataFrame) -> dict[str, float]:
    """MAE, RMSE (kW), their skill against the naive reference (% of its error removed, NaN when it makes
    none: ems.forecasting.skill) and the mean pinball loss per quantile level (kW), of base load and PV
    over the scheduled days."""
    out: dict[str, float] = {}
    if "forecast_hours" not in d.columns:
        return out
    hours = float(d["forecast_hours"].sum())
    for key in ("base", "pv"):
        mae, rmse = float(d[f"{key}_abs_err"].sum()) / hours, math.sqrt(float(d[f"{key}_sq_err"].sum()) / hours)
        known = d.filter(pl.col(f"{key}_ref_abs_err").is_not_null())
        ref_hours = float(known["forecast_hours"].sum())
        if ref_hours:
            ref_mae = float(known[f"{key}_ref_abs_err"].sum()) / ref_hours
            ref_rmse = math.sqrt(float(known[f"{key}_ref_sq_err"].sum()) / ref_hours)
            mine_mae = float(known[f"{key}_abs_err"].sum()) / ref_hours
            mine_rmse = math.sqrt(float(known[f"{key}_sq_err"].sum()) / ref_hours)
            skill_mae, skill_rmse = 100.0 * skill(mine_mae, ref_mae), 100.0 * skill(mine_rmse, ref_rmse)
        else:
            skill_mae = skill_rmse = float("nan")
        out |= {f"{key}_mae_kw": mae, f"{key}_rmse_kw": rmse, f"{key}_mae_skill_pct": skill_mae,
                f"{key}_rmse_skill_pct": skill_rmse}
        for column in (c for c in d.columns if c.startswith(f"{key}_pinball_p")):
            out[f"{column}_kw"] = float(d[column].sum()) / hours
    return out


def formatted(value: float | None, fmt: str) -> str:
    """A KPI value in its table format; ``n/a`` when it is missing or undefined (NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return fmt.format(value)


def table(columns: dict[str, dict[str, float]], title: str) -> str:
    """A KPI table with one column per run (label -> totals)."""
    names = list(columns)
    width = max(12, *(len(n) + 2 for n in names))
    lines = [title, f"{'':<30}" + "".join(f"{n:>{width}}" for n in names)]
    for key, label, unit, fmt in ROWS:
        if key in OPTIONAL_ROWS and not any(key in c for c in columns.values()):
            continue
        cells = [formatted(columns[n].get(key), fmt) for n in names]
        lines.append(f"{(label + (' ' + unit if unit else '')):<30}" + "".join(f"{c:>{width}}" for c in cells))
        if key == "battery_cycles":  # then each unit of a house with several (their names, in the order seen)
            units = dict.fromkeys(k for c in columns.values() for k in c if k.endswith(tuple(UNIT_SUFFIXES))
                                  and k not in FLEET_TOTALS)
            for k in units:
                suffix = next(s for s in UNIT_SUFFIXES if k.endswith(s))
                cells = [formatted(columns[n].get(k), "{:.1f}") for n in names]
                lines.append(f"{'  ' + k.removesuffix(suffix) + ' ' + UNIT_SUFFIXES[suffix]:<30}"
                             + "".join(f"{c:>{width}}" for c in cells))
    return "\n".join(lines)


def daily_frame(outcome: ReplayOutcome) -> pl.DataFrame:
    """Per-day records with the savings column added."""
    if outcome.daily.is_empty():
        return outcome.daily
    return outcome.daily.with_columns(savings_eur=pl.col("baseline_cost_eur") - pl.col("energy_cost_eur"))
