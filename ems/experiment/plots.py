"""PNG plots of a replay: one day's schedule against the price, daily costs, cumulative savings."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ems.experiment.settlement import battery_columns
from ems.figures import plt, save_figure  # Agg, or a notebook's own backend


def day_schedule(steps: pl.DataFrame, day, title: str, path: Path) -> Path:
    """Stacked device power, base load, PV, grid import/export and battery SOC of one day, with the price."""
    d = steps.filter(pl.col("local_date") == day)
    x = list(range(d.height + 1))
    devices = [c for c in d.columns if c.endswith("_kw") and c not in
               ("base_load_kw", "pv_kw", "import_kw", "export_kw", *battery_columns(d.columns))]
    fig, (ax, ax_soc) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    charge = d["battery_kw"].clip(lower_bound=0)
    layers = [_edge(d["base_load_kw"])] + [_edge(d[c].fill_null(0)) for c in devices] + [_edge(charge)]
    labels = ["base load"] + [c.removesuffix("_kw").replace("_", " ") for c in devices] + ["battery charging"]
    ax.stackplot(x, *layers, labels=labels, step="post", alpha=0.8)
    ax.step(x, _edge(d["pv_kw"]), where="post", color="gold", lw=2, label="PV")
    ax.step(x, _edge(-d["battery_kw"].clip(upper_bound=0)), where="post", color="purple", lw=1.5,
            label="battery discharging")
    ax.step(x, _edge(d["import_kw"]), where="post", color="black", lw=1.5, label="grid import")
    ax.step(x, _edge(-d["export_kw"]), where="post", color="green", lw=1.5, label="grid export (negative)")
    ax.set_ylabel("power (kW)")
    price = ax.twinx()
    price.step(x, _edge(d["import_price_eur_kwh"]), where="post", color="red", ls="--", label="import price")
    price.set_ylabel("import price (EUR/kWh)", color="red")
    ax.legend(loc="upper left", fontsize=8, ncol=2)
    ax.set_title(title)
    ax_soc.step(x, _edge(d["battery_soc_kwh"]), where="post", color="purple")
    ax_soc.set_ylabel("battery SOC (kWh)\nat step end")
    ax_soc.set_xlabel("local hour (start of step)")
    ax_soc.set_xticks(x[:-1], d["local_hour"].to_list(), fontsize=7)
    return save_figure(fig, path)


def daily_costs(daily: pl.DataFrame, title: str, path: Path) -> Path:
    """Daily energy cost, baseline against the mode."""
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(daily["local_date"], daily["baseline_cost_eur"], label="baseline", lw=1)
    ax.plot(daily["local_date"], daily["energy_cost_eur"], label="scheduled", lw=1)
    ax.set_ylabel("energy cost (EUR/day)")
    ax.set_title(title)
    ax.legend()
    fig.autofmt_xdate()
    return save_figure(fig, path)


def cumulative_savings(daily: pl.DataFrame, title: str, path: Path) -> Path:
    """Cumulative savings against the baseline over the period."""
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(daily["local_date"], (daily["baseline_cost_eur"] - daily["energy_cost_eur"]).cum_sum())
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel("cumulative savings (EUR)")
    ax.set_title(title)
    fig.autofmt_xdate()
    return save_figure(fig, path)


def _edge(values: pl.Series) -> list[float]:
    """Step values with the last one repeated, so a post-step plot shows the final step in full."""
    v = values.to_list()
    return v + v[-1:]
