"""MLflow tracking: one experiment per experiment config, one run per job.

The backend defaults to sqlite under ``outputs/`` (``tracking.uri``); params
are the flattened resolved config, tags carry the git commit and a hash of
the data sources, metrics are logged per day (``step`` = day index) and as
totals, artifacts are the run's output folder.
"""

from __future__ import annotations

import hashlib
import logging
import math
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ems.mlflow_store import client, ensure_experiment

if TYPE_CHECKING:  # the recorder's helper imports this module: only what logging needs at import
    import polars as pl
    from omegaconf import DictConfig

# The schema migrations' INFO lines would precede every run's output (and one-line errors).
for _name in ("mlflow.store.db.utils", "alembic"):
    logging.getLogger(_name).setLevel(logging.WARNING)

BATCH = 100  # MLflow's limit of params per log_batch call
METRIC_BATCH = 1000


def flatten(cfg: "DictConfig") -> dict[str, str]:
    """Dotted keys -> values of the resolved config (without Hydra's own node)."""
    from omegaconf import OmegaConf

    out: dict[str, str] = {}

    def walk(node, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            out[prefix[:-1]] = str(node)[:6000]

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return {k: v for k, v in out.items() if not k.startswith("hydra.")}


def git_commit() -> str:
    from ems.config import project_root

    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=project_root(), capture_output=True, text=True,
                              timeout=10).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def data_hash(source_sha256: list[str]) -> str:
    """One hash over the SHA-256 of every ingested source file."""
    return hashlib.sha256("".join(sorted(source_sha256)).encode()).hexdigest()[:16]


class Tracker:
    """Logs runs to ``uri`` under experiment ``experiment``; artifacts go below ``artifact_root``."""

    def __init__(self, uri: str, experiment: str, artifact_root: str):
        self.client = client(uri)
        self.experiment_id = ensure_experiment(self.client, experiment, artifact_root)

    def start(self, run_name: str, params: dict[str, str], tags: dict[str, str], parent_run_id: str | None = None) -> str:
        tags = dict(tags)
        if parent_run_id:
            tags["mlflow.parentRunId"] = parent_run_id
        from mlflow.entities import Param

        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=tags)
        items = [Param(k, v) for k, v in params.items()]
        for i in range(0, len(items), BATCH):
            self.client.log_batch(run.info.run_id, params=items[i:i + BATCH])
        return run.info.run_id

    def log_daily(self, run_id: str, daily: "pl.DataFrame", columns: list[str]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(f"day/{c}", float(v), now, step)
                   for c in columns for step, v in enumerate(daily[c].to_list()) if v is not None and math.isfinite(v)]
        for i in range(0, len(metrics), METRIC_BATCH):
            self.client.log_batch(run_id, metrics=metrics[i:i + METRIC_BATCH])

    def log_totals(self, run_id: str, totals: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, 0) for k, v in totals.items() if v is not None and math.isfinite(v)]
        self.client.log_batch(run_id, metrics=metrics)

    def finish(self, run_id: str, artifacts: Path | None = None, status: str = "FINISHED") -> None:
        if artifacts is not None:
            self.client.log_artifacts(run_id, str(artifacts))
        self.client.set_terminated(run_id, status)
