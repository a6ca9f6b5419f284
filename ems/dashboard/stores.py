"""What the dashboard reads: the project's own outputs under ``paths.output_dir``.

* runs: every folder with a ``summary.json`` (``run.py`` runs under ``runs/``, sweep jobs under
  ``multiruns/``, evaluation runs under ``evaluation/<report>/runs/``); a compare run is the Hydra run folder
  whose labelled sub-folders (``phases/none``) hold the summaries;
* sweeps: ``multiruns/<name>/<timestamp>/`` with one numbered job folder each;
* evaluation reports: ``evaluation/<timestamp>_<name>/report.html``;
* PMF state: the service's ``service/<building>_pmf.duckdb`` (:mod:`ems.learning.state`) and a learner run's
  ``pmf_updates.parquet`` / ``learner_pmfs.parquet``;
* MLflow: the tracking store (``tracking.uri``, sqlite).

Paths in URLs are relative to the output folder and never leave it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml


class NotFound(LookupError):
    """A path or name the dashboard has no data for (HTTP 404)."""


@dataclass
class Run:
    """One run folder: its KPI totals, per-day table and config; ``labels`` of a compare run's parts."""

    path: str
    folder: Path
    totals: dict[str, float]
    config: dict
    labels: dict[str, Path] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.config.get("name", ""))

    @property
    def building(self) -> str:
        if self.config.get("community"):  # experiment=community: the listed buildings, not the building group
            return "community of " + ", ".join(self.config.get("buildings") or [])
        return str((self.config.get("building") or {}).get("id", ""))

    @property
    def community(self) -> pl.DataFrame:
        """A community run's table (``community.csv``: one row per building and the community), else empty."""
        path = self.folder / "community.csv"
        return pl.read_csv(path) if path.is_file() else pl.DataFrame()

    @property
    def period(self) -> str:
        p = self.config.get("period") or {}
        return f"{p.get('start')} + {p.get('n_days')} days"


def inside(root: Path, relative: str) -> Path:
    """``root / relative`` if it stays inside ``root`` (no ``..`` or absolute tricks), else NotFound."""
    root = root.resolve()
    try:
        path = (root / relative).resolve()
    except (OSError, ValueError):  # e.g. a NUL byte or a name too long for the file system
        raise NotFound(f"{relative!r}: not a path under the output folder") from None
    if path != root and root not in path.parents:
        raise NotFound(f"{relative}: not under the output folder")
    if not _exists(path):
        raise NotFound(f"{relative}: no such run or file")
    return path


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def summary_of(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def _config(folder: Path) -> dict:
    path = folder / "config.yaml"
    return yaml.safe_load(path.read_text()) if path.is_file() else {}


def run_root(folder: Path, root: Path) -> Path:
    """The Hydra run folder a summary belongs to: ``folder`` itself, or the nearest ancestor with a
    ``.hydra`` folder and no summary of its own (a compare run's labelled parts)."""
    for parent in folder.parents:
        if parent == root or root not in parent.parents:
            break
        if (parent / ".hydra").is_dir() and not (parent / "summary.json").is_file():
            return parent
    return folder


def list_runs(root: Path) -> list[Run]:
    """Every run under ``root``'s run folders (not MLflow's artifact copies), newest first (a compare run
    once, with its labels)."""
    root = root.resolve()
    runs: dict[Path, Run] = {}
    bases = [root / "runs", root / "multiruns", *(root / "evaluation").glob("*/runs")]
    for summary in (s for base in bases if base.is_dir() for s in base.rglob("summary.json")):
        folder = summary.parent
        top = run_root(folder, root)
        if top not in runs:
            runs[top] = Run(str(top.relative_to(root)), top, {}, {})
        run = runs[top]
        if top == folder:
            run.totals, run.config = summary_of(folder).get("totals", {}), _config(folder)
        else:
            run.labels[str(folder.relative_to(top))] = folder
            if not run.config:
                run.config, run.totals = _config(folder), summary_of(folder).get("totals", {})
    return sorted(runs.values(), key=lambda r: r.folder.stat().st_mtime, reverse=True)


def load_run(root: Path, relative: str) -> Run:
    folder = inside(root, relative)
    labels = {str(s.parent.relative_to(folder)): s.parent for s in sorted(folder.rglob("summary.json"))
              if s.parent != folder}
    if (folder / "summary.json").is_file():
        return Run(relative, folder, summary_of(folder).get("totals", {}), _config(folder))
    if not labels:
        raise NotFound(f"{relative}: no summary.json (not a run folder)")
    first = next(iter(labels.values()))
    return Run(relative, folder, summary_of(first).get("totals", {}), _config(first), labels)


def part(run: Run, label: str | None) -> tuple[str | None, Path, dict[str, float]]:
    """(label, folder, totals) of a compare run's part (the first when ``label`` is None), or the run itself."""
    if not run.labels:
        return None, run.folder, run.totals
    label = label if label in run.labels else next(iter(run.labels))
    return label, run.labels[label], summary_of(run.labels[label]).get("totals", {})


def daily(folder: Path) -> pl.DataFrame:
    path = folder / "daily.csv"
    return pl.read_csv(path, try_parse_dates=True) if path.is_file() else pl.DataFrame()


def schedule(folder: Path, day: str | None) -> tuple[list[str], str | None, pl.DataFrame]:
    """(every scheduled local day, the chosen one (default the first), its hourly schedule)."""
    path = folder / "schedules.parquet"
    if not path.is_file():
        return [], None, pl.DataFrame()
    steps = pl.read_parquet(path).with_columns(pl.col("local_date").cast(pl.String))
    days = steps["local_date"].unique(maintain_order=True).to_list()
    chosen = day if day in days else (days[0] if days else None)
    return days, chosen, steps.filter(pl.col("local_date") == chosen).sort("utc_hour")


@dataclass
class Sweep:
    path: str
    folder: Path
    jobs: list[dict]          # num, overrides (dict key -> value), objectives (dict name -> value)
    objectives: list[str]


def list_sweeps(root: Path) -> list[Path]:
    base = root.resolve() / "multiruns"
    return sorted((p for p in base.glob("*/*") if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True) \
        if base.is_dir() else []


def load_sweep(root: Path, relative: str) -> Sweep:
    folder = inside(root, relative)
    jobs, objectives = [], []
    for job in sorted((p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)):
        overrides_file = job / ".hydra" / "overrides.yaml"
        overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.is_file() else []
        config = _config(job)
        names = config.get("objective", "energy_cost_eur")
        names = names if isinstance(names, list) else [names]
        objectives = objectives or names
        totals = summary_of(job).get("totals", {}) if (job / "summary.json").is_file() else {}
        jobs.append({"num": int(job.name), "path": str(job.relative_to(root.resolve())),
                     "overrides": dict(o.split("=", 1) for o in overrides if "=" in o),
                     "objectives": {n: totals.get(n, math.nan) for n in names}, "failed": (job / "FAILED").is_file()})
    if not jobs:
        raise NotFound(f"{relative}: no sweep jobs (numbered folders) here")
    return Sweep(relative, folder, jobs, objectives)


def list_reports(root: Path) -> list[Path]:
    base = root.resolve() / "evaluation"
    return sorted(base.glob("*/report.html"), reverse=True) if base.is_dir() else []


def pmf_states(root: Path) -> list[str]:
    """Buildings with a saved service PMF state."""
    from ems.service.state import STATE_SUFFIX

    base = root.resolve() / "service"
    return sorted(p.name.removesuffix(STATE_SUFFIX) for p in base.glob(f"*{STATE_SUFFIX}")) if base.is_dir() else []


def pmf_state(root: Path, building: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the current PMFs: device, day_type, n, pmf; every archived update) of a building's service state,
    read as the service reads it (:func:`ems.learning.state.read_frames`; an unreadable file is NotFound
    naming it)."""
    from ems.learning.state import StateError, read_frames
    from ems.service.state import STATE_SUFFIX

    if building not in pmf_states(root):
        raise NotFound(f"{building}: no saved PMF state under service/")
    try:
        state, updates = read_frames(root.resolve() / "service" / f"{building}{STATE_SUFFIX}")
    except StateError as exc:
        raise NotFound(str(exc)) from None
    return state.sort("device", "day_type"), updates


def learner_pmfs(folder: Path) -> pl.DataFrame:
    """A rule learner's final PMFs (device, day_type, hour, p), if the run had one."""
    path = folder / "learner_pmfs.parquet"
    return pl.read_parquet(path) if path.is_file() else pl.DataFrame()


def learner_updates(folder: Path) -> pl.DataFrame:
    path = folder / "pmf_updates.parquet"
    return pl.read_parquet(path) if path.is_file() else pl.DataFrame()


def mlflow_runs(tracking_uri: str, max_runs: int = 200) -> list[dict]:
    """Experiment name, run name, status, start time and the cost KPIs of the newest runs."""
    from ems.mlflow_store import client as store_client

    client = store_client(tracking_uri)
    rows = []
    experiments = {e.experiment_id: e.name for e in client.search_experiments()}
    if not experiments:
        return rows
    for r in client.search_runs(list(experiments), max_results=max_runs, order_by=["attributes.start_time DESC"]):
        m = r.data.metrics
        rows.append({"experiment": experiments.get(r.info.experiment_id, ""), "run": r.info.run_name,
                     "status": r.info.status, "start": r.info.start_time,
                     "energy_cost_eur": m.get("energy_cost_eur"), "savings_eur": m.get("savings_eur")})
    return rows
