"""Logging, registering and loading the usage models in MLflow.

Each device's training is one run. Models are logged with the lightgbm and
catboost flavors and a signature and registered as ``{building}_{device}_daily``
and ``{building}_{device}_hourly``; the alias (``champion``) moves to a new
version only when its test ROC AUC beats both its frequency baseline's and the
current champion's.
"""

from __future__ import annotations

import math
import os
import warnings

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402
import mlflow.catboost  # noqa: E402
import mlflow.lightgbm  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402

KINDS = {"daily": mlflow.lightgbm, "hourly": mlflow.catboost}


def model_name(building: str, device: str, kind: str) -> str:
    return f"{building}_{device}_{kind}"


#: What happened to the alias when a model was registered (``log_and_register``).
MOVED, LOSES_TO_BASELINE, NOT_BETTER = "moved", "kept: the model does not beat its frequency baseline", \
    "kept: the model does not beat the current champion"


def log_and_register(client: mlflow.MlflowClient, run_id: str, name: str, kind: str, model, example, score: float,
                     alias: str, baseline: float) -> tuple[int, str]:
    """Log ``model`` in run ``run_id`` and register it as ``name``; move ``alias`` to it only if its
    test ``score`` (ROC AUC) beats both its frequency ``baseline``'s on the same test days and the
    current champion's. A model that loses is registered (tagged with both scores) but not aliased.

    Returns (version, what happened to the alias: MOVED, LOSES_TO_BASELINE or NOT_BETTER).
    """
    with mlflow.start_run(run_id=run_id), warnings.catch_warnings():
        # CatBoost's categorical inputs are integers by design; MLflow's hint about missing integers does not apply.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
        info = KINDS[kind].log_model(model, name=kind, signature=infer_signature(example, model.predict_proba(example)),
                                     input_example=example.head(3))
    version = int(mlflow.register_model(info.model_uri, name).version)
    client.set_model_version_tag(name, str(version), "test_roc_auc", str(score))
    client.set_model_version_tag(name, str(version), "baseline_roc_auc", str(baseline))
    if math.isnan(score) or not (math.isnan(baseline) or score > baseline):
        return version, LOSES_TO_BASELINE
    current = champion_score(client, name, alias)
    if current is not None and not score > current:
        return version, NOT_BETTER
    client.set_registered_model_alias(name, alias, str(version))
    return version, MOVED


def champion_score(client: mlflow.MlflowClient, name: str, alias: str) -> float | None:
    """The test ROC AUC of the version holding ``alias`` (None without one)."""
    try:
        version = client.get_model_version_by_alias(name, alias)
    except mlflow.exceptions.MlflowException:
        return None
    return float(version.tags.get("test_roc_auc", "nan"))


def load(name: str, kind: str, alias: str):
    """The model version holding ``alias`` (raises MlflowException if there is none)."""
    return KINDS[kind].load_model(f"models:/{name}@{alias}")
