"""The dashboard's interactive charts (Plotly figures; the page draws them with the plotly.js that ships
in the plotly package, so nothing is fetched from the network). Units: kW, kWh, EUR, EUR/kWh; hours are
local (Europe/Berlin) hours of the day."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from ems.experiment.settlement import battery_columns

#: Schedule columns that are not a device's power.
NOT_DEVICES = {"utc_hour", "local_date", "local_hour", "import_price_eur_kwh", "base_load_kw", "pv_kw", "import_kw",
               "export_kw", "battery_kw", "battery_soc_kwh", "ev_soc_kwh"}


def _layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=dict(l=60, r=60, t=50, b=40), legend=dict(orientation="h"),
                      template="plotly_white")
    return fig


def schedule(steps: pl.DataFrame, title: str) -> go.Figure:
    """One day: stacked device power and base load, PV, grid import/export (kW, top); battery SOC (kWh) and
    the import price (EUR/kWh, right axis, bottom)."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.06,
                        specs=[[{}], [{"secondary_y": True}]])
    hours = steps["local_hour"].to_list()
    fig.add_trace(go.Scatter(x=hours, y=steps["base_load_kw"].to_list(), name="base load", stackgroup="load",
                             line_shape="hv"), row=1, col=1)
    batteries = battery_columns(steps.columns)
    for column in (c for c in steps.columns if c.endswith("_kw") and c not in NOT_DEVICES | batteries):
        fig.add_trace(go.Scatter(x=hours, y=steps[column].fill_null(0).to_list(), name=column.removesuffix("_kw"),
                                 stackgroup="load", line_shape="hv"), row=1, col=1)
    for column, name, dash in (("pv_kw", "PV", "solid"), ("import_kw", "grid import", "dot")):
        fig.add_trace(go.Scatter(x=hours, y=steps[column].to_list(), name=name, line=dict(dash=dash), line_shape="hv"),
                      row=1, col=1)
    fig.add_trace(go.Scatter(x=hours, y=(-steps["export_kw"]).to_list(), name="grid export (negative)",
                             line=dict(dash="dot"), line_shape="hv"), row=1, col=1)
    if "battery_kw" in steps.columns and steps["battery_kw"].abs().sum() > 0:
        fig.add_trace(go.Bar(x=hours, y=steps["battery_kw"].to_list(), name="battery (+ charge)", opacity=0.5),
                      row=1, col=1)
    fig.add_trace(go.Scatter(x=hours, y=steps["battery_soc_kwh"].to_list(), name="battery SOC kWh"), row=2, col=1)
    fig.add_trace(go.Scatter(x=hours, y=steps["import_price_eur_kwh"].to_list(), name="import price EUR/kWh",
                             line_shape="hv", line=dict(color="black")), row=2, col=1, secondary_y=True)
    fig.update_yaxes(title_text="kW", row=1, col=1)
    fig.update_yaxes(title_text="kWh", row=2, col=1)
    fig.update_yaxes(title_text="EUR/kWh", row=2, col=1, secondary_y=True)
    fig.update_xaxes(title_text="local hour", row=2, col=1)
    return _layout(fig, title, 560)


def daily_costs(daily: pl.DataFrame, title: str) -> go.Figure:
    """Per day: the plan's and the baseline's energy cost (EUR, bars) and the cumulative savings (EUR, line)."""
    days = daily["local_date"].cast(pl.String).to_list()
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=days, y=daily["energy_cost_eur"].to_list(), name="energy cost EUR"))
    fig.add_trace(go.Bar(x=days, y=daily["baseline_cost_eur"].to_list(), name="baseline cost EUR", opacity=0.6))
    saved = (daily["baseline_cost_eur"] - daily["energy_cost_eur"]).cum_sum()
    fig.add_trace(go.Scatter(x=days, y=saved.to_list(), name="cumulative savings EUR", line=dict(color="black")),
                  secondary_y=True)
    fig.update_yaxes(title_text="EUR per day")
    fig.update_yaxes(title_text="cumulative EUR", secondary_y=True)
    return _layout(fig, title)


def comparison(columns: dict[str, dict[str, float]], title: str) -> go.Figure:
    """Energy cost and savings (EUR) of each part of a compare run."""
    labels = list(columns)
    fig = go.Figure([go.Bar(x=labels, y=[columns[k].get("energy_cost_eur") for k in labels], name="energy cost EUR"),
                     go.Bar(x=labels, y=[columns[k].get("savings_eur") for k in labels], name="savings EUR")])
    return _layout(fig, title)


def community(table: pl.DataFrame, title: str) -> go.Figure:
    """Each building's cost alone and jointly (EUR, energy + battery wear) of a community run."""
    rows = table.filter(pl.col("building") != "community")
    names = rows["building"].to_list()
    fig = go.Figure([go.Bar(x=names, y=rows["alone_total_eur"].to_list(), name="alone EUR"),
                     go.Bar(x=names, y=rows["joint_total_eur"].to_list(), name="joint EUR")])
    return _layout(fig, title)


def heatmap(z: np.ndarray, rows: list[str], title: str, x_title: str = "local hour", y_title: str = "") -> go.Figure:
    fig = go.Figure(go.Heatmap(z=np.asarray(z, float).tolist(), x=list(range(np.asarray(z).shape[1])), y=rows,
                               colorscale="Viridis", colorbar=dict(title="P")))
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title, type="category")
    return _layout(fig, title, min(600, max(300, 24 * len(rows) + 140)))


def sweep_heatmap(jobs: list[dict], x: str, y: str, objective: str) -> go.Figure:
    """The objective over two swept parameters (e.g. learning rates); the mean where a pair repeats."""
    xs = sorted({j["overrides"][x] for j in jobs}, key=_number)
    ys = sorted({j["overrides"][y] for j in jobs}, key=_number)
    z = np.full((len(ys), len(xs)), np.nan)
    for i, yv in enumerate(ys):
        for k, xv in enumerate(xs):
            values = [j["objectives"][objective] for j in jobs if j["overrides"][x] == xv and j["overrides"][y] == yv
                      and not math.isnan(j["objectives"][objective])]
            if values:
                z[i, k] = float(np.mean(values))
    fig = go.Figure(go.Heatmap(z=[[None if math.isnan(v) else v for v in row] for row in z], x=xs, y=ys,
                               colorscale="Viridis", colorbar=dict(title=objective)))
    fig.update_xaxes(title_text=x, type="category")
    fig.update_yaxes(title_text=y, type="category")
    return _layout(fig, f"{objective} by {x} and {y}")


def pareto(jobs: list[dict], a: str, b: str, maximize: tuple[bool, bool]) -> go.Figure:
    """Every job on two objectives, the non-dominated ones marked and joined."""
    points = [(j["objectives"][a], j["objectives"][b], j["num"]) for j in jobs
              if not (math.isnan(j["objectives"][a]) or math.isnan(j["objectives"][b]))]
    front = pareto_front([(p[0], p[1]) for p in points], maximize)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="markers", name="jobs",
                             text=[f"job {p[2]}" for p in points]))
    chosen = sorted((points[i] for i in front), key=lambda p: p[0])
    fig.add_trace(go.Scatter(x=[p[0] for p in chosen], y=[p[1] for p in chosen], mode="lines+markers",
                             name="Pareto front", text=[f"job {p[2]}" for p in chosen]))
    fig.update_xaxes(title_text=a)
    fig.update_yaxes(title_text=b)
    return _layout(fig, f"Pareto front: {a} vs {b}")


def pareto_front(points: list[tuple[float, float]], maximize: tuple[bool, bool]) -> list[int]:
    """Indices of the points no other point dominates (better or equal on both, better on one)."""
    sign = np.array([-1.0 if m else 1.0 for m in maximize])
    p = np.asarray(points, float).reshape(-1, 2) * sign
    out = []
    for i in range(len(p)):
        dominated = np.any(np.all(p <= p[i], axis=1) & np.any(p < p[i], axis=1))
        if not dominated:
            out.append(i)
    return out


def _number(text: str):
    try:
        return (0, float(text))
    except ValueError:
        return (1, text)
