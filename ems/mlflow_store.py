"""The project's MLflow store: experiments are created with their artifacts under ``paths.output_dir``."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402


def ensure_experiment(client: mlflow.MlflowClient, name: str, artifact_root: str) -> str:
    """The id of experiment ``name``, created with its artifacts below ``artifact_root``
    (never MLflow's default ``./mlruns`` in whatever folder the command runs from)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    return client.create_experiment(name, artifact_location=Path(artifact_root, name).resolve().as_uri())
