"""``python -m ems report [EXPERIMENT]``: compare the runs of an MLflow experiment.

Reads the runs with ``search_runs`` (sweep parents left out) and writes to
``<paths.output_dir>/reports/<experiment>/``: ``runs.csv`` (every run, its
swept params and KPIs), ``runs.md`` (the best runs), and plots: the best
trials, a LR_TAU x LR_MAX heatmap of the learning score (when both were
swept) and the Pareto front of energy cost against preference satisfaction
(when both vary).
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ems.figures import plt, save_figure  # Agg, or a notebook's own backend

KPIS = ["energy_cost_eur", "savings_eur", "savings_pct", "preference_satisfaction_pct", "learning_score",
        "peak_import_kw", "pv_self_consumption_pct", "days", "infeasible_days"]
LR = ("params.learner.settings.lr_tau", "params.learner.settings.lr_max")
PARETO = ("metrics.energy_cost_eur", "metrics.preference_satisfaction_pct")


def load_runs(tracking_uri: str, experiment: str) -> pd.DataFrame:
    import mlflow

    from ems.mlflow_store import client as store_client

    client = store_client(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        names = ", ".join(e.name for e in client.search_experiments())
        raise ValueError(f"experiment {experiment!r} is not in {tracking_uri} (have: {names or 'none'})")
    mlflow.set_tracking_uri(tracking_uri)
    runs = mlflow.search_runs([found.experiment_id])
    if runs.empty:
        raise ValueError(f"experiment {experiment!r} has no runs")
    is_parent = runs["run_id"].isin(runs.get("tags.mlflow.parentRunId", pd.Series(dtype=str)).dropna())
    return runs[~is_parent].reset_index(drop=True)


def run_objective(runs: pd.DataFrame) -> str:
    """The (first) objective the runs were configured with (param ``objective``)."""
    value = str(runs.get("params.objective", pd.Series(["energy_cost_eur"])).dropna().iloc[0])
    return ast.literal_eval(value)[0] if value.startswith("[") else value


def swept_params(runs: pd.DataFrame) -> list[str]:
    """Param columns whose value differs between runs."""
    return [c for c in runs.columns if c.startswith("params.") and runs[c].nunique(dropna=True) > 1]


def pareto_front(cost: np.ndarray, satisfaction: np.ndarray) -> np.ndarray:
    """Indices of the runs no other run beats on both (lower cost, higher satisfaction), by cost."""
    order = np.lexsort((-satisfaction, cost))
    front, best = [], -math.inf
    for i in order:
        if satisfaction[i] > best:
            front.append(i)
            best = satisfaction[i]
    return np.array(front, dtype=int)


def write_report(runs: pd.DataFrame, experiment: str, objective: str, maximize: bool, out: Path) -> list[Path]:
    """Write runs.csv, runs.md and the plots; return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    params = swept_params(runs)
    metrics = [f"metrics.{k}" for k in KPIS if f"metrics.{k}" in runs.columns]
    table = runs[["run_id", "tags.mlflow.runName", *params, *metrics, "status"]].copy()
    key = f"metrics.{objective}"
    if key in table.columns:
        table = table.sort_values(key, ascending=not maximize, na_position="last")
    files = [out / "runs.csv", out / "runs.md"]
    table.to_csv(files[0], index=False)
    files[1].write_text(_markdown(table.head(20), f"{experiment}: runs by {objective} "
                                                   f"({'highest' if maximize else 'lowest'} first)"))
    if key in table.columns:
        files.append(_best_trials(table, key, params, out / "best_trials.png"))
    if all(c in runs.columns for c in (*LR, "metrics.learning_score")) and runs[list(LR)].notna().all(axis=None):
        files.append(_lr_heatmap(runs, out / "lr_heatmap.png"))
    if all(c in runs.columns for c in PARETO) and runs[PARETO[0]].nunique() > 1:
        files += _pareto(runs, params, out)
    return files


def _markdown(frame: pd.DataFrame, title: str) -> str:
    cols = [c.removeprefix("params.").removeprefix("metrics.").removeprefix("tags.mlflow.") for c in frame.columns]
    rows = [f"# {title}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    numeric = [c.startswith("params.") for c in frame.columns]
    for values in frame.itertuples(index=False):
        rows.append("| " + " | ".join(_cell(_num(v) if n else v) for v, n in zip(values, numeric)) + " |")
    return "\n".join(rows) + "\n"


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return str(value)[:40]


def _best_trials(table: pd.DataFrame, key: str, params: list[str], path: Path) -> Path:
    top = table.dropna(subset=[key]).head(10)
    labels = [", ".join(f"{p.split('.')[-1]}={_cell(_num(r[p]))}" for p in params) or r["tags.mlflow.runName"]
              for _, r in top.iterrows()]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(top) + 1.5))
    ax.barh(range(len(top)), top[key])
    ax.set_yticks(range(len(top)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(key.removeprefix("metrics."))
    ax.set_title("best trials")
    return save_figure(fig, path)


def _lr_heatmap(runs: pd.DataFrame, path: Path) -> Path:
    data = runs.assign(tau=runs[LR[0]].astype(float).round(3), lrmax=runs[LR[1]].astype(float).round(4))
    grid = data.pivot_table(index="tau", columns="lrmax", values="metrics.learning_score", aggfunc="mean")
    fig, ax = plt.subplots(figsize=(7, 5))
    image = ax.imshow(grid.values, cmap="viridis", aspect="auto", origin="lower")
    ax.set_xticks(range(len(grid.columns)), [f"{v:g}" for v in grid.columns])
    ax.set_yticks(range(len(grid.index)), [f"{v:g}" for v in grid.index])
    ax.set_xlabel("LR_MAX")
    ax.set_ylabel("LR_TAU")
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            if not np.isnan(grid.values[i, j]):
                ax.text(j, i, f"{grid.values[i, j]:.3f}", ha="center", va="center", color="white", fontsize=8)
    fig.colorbar(image, ax=ax, label="learning score (nats/event)")
    ax.set_title("learning score over LR_TAU x LR_MAX")
    return save_figure(fig, path)


def _pareto(runs: pd.DataFrame, params: list[str], out: Path) -> list[Path]:
    data = runs.dropna(subset=list(PARETO)).reset_index(drop=True)
    cost, sat = data[PARETO[0]].to_numpy(float), data[PARETO[1]].to_numpy(float)
    front = pareto_front(cost, sat)
    fig, ax = plt.subplots(figsize=(8, 5.5))
    ax.scatter(cost, sat, color="lightgrey", label="trial")
    ax.step(cost[front], sat[front], where="post", color="tab:red", lw=2, marker="o", label="Pareto front")
    for i in front:
        text = ", ".join(f"{p.split('.')[-1]}={_cell(_num(data.loc[i, p]))}" for p in params)
        ax.annotate(text, (cost[i], sat[i]), fontsize=7, xytext=(4, -10), textcoords="offset points")
    ax.set_xlabel("energy cost (EUR)")
    ax.set_ylabel("preference satisfaction (%)")
    ax.set_title("cost against preference satisfaction")
    ax.legend()
    csv = out / "pareto_front.csv"
    data.loc[front, ["run_id", *params, *PARETO]].to_csv(csv, index=False)
    return [save_figure(fig, out / "pareto_front.png"), csv]


def _num(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return value
