"""Hydra callbacks: prepare shared state before any job starts, close it after.

Before a run: create ``paths.output_dir``. Before a sweep, also build the
DuckDB store if missing (so workers only ever open it read-only) and create
the MLflow sqlite schema and experiment (two workers racing to create a fresh
database fail).
For a sweep, also open a parent MLflow run whose id the jobs read from
``<sweep dir>/mlflow_parent_run_id``; each job's run becomes its child.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)
PARENT_FILE = "mlflow_parent_run_id"


def parent_run_id(sweep_dir: Path) -> str | None:
    """The sweep's parent MLflow run id, if the callback opened one."""
    path = Path(sweep_dir) / PARENT_FILE
    return path.read_text().strip() if path.is_file() else None


class PrepareOutputs(Callback):
    """See the module docstring."""

    def _prepare(self, config: DictConfig):
        from ems.data.ingest import ensure_database

        Path(config.paths.output_dir).mkdir(parents=True, exist_ok=True)
        ensure_database(config.data)
        if not config.tracking.enabled:
            return None
        from ems.experiment.tracking import Tracker

        return Tracker(config.tracking.uri, config.name, config.tracking.artifact_root)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        Path(config.paths.output_dir).mkdir(parents=True, exist_ok=True)  # one job: nothing to race for

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        tracker = self._prepare(config)
        if tracker is None:
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        run_id = tracker.start(f"sweep {config.name}", {"sweeper": config.hydra.sweeper._target_,
                                                        "launcher": config.hydra.launcher._target_},
                               {"sweep_dir": str(sweep_dir)})
        (sweep_dir / PARENT_FILE).write_text(run_id)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        run_id = parent_run_id(Path(config.hydra.sweep.dir))
        if run_id is None or not config.tracking.enabled:
            return
        from ems.experiment.tracking import Tracker

        Tracker(config.tracking.uri, config.name, config.tracking.artifact_root).finish(run_id)
