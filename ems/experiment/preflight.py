"""Checks of an experiment config before anything runs: one line naming the key and what would fix it.

A config that composes can still be meaningless: an ``objective`` no run
reports (a sweep would optimise NaN), a ``theta`` outside [0, 1], negative
replay thresholds, a tracking URI MLflow cannot open. ``run.py`` and the
sweep callback call :func:`check_experiment` first, so such a config stops
with exit 2 before a day is replayed or a job is launched.
"""

from __future__ import annotations

import difflib
import math
from typing import Any
from urllib.parse import urlparse

from omegaconf import DictConfig, OmegaConf

from ems.config import instantiate
from ems.experiment.summary import KPI_NAMES

#: Tracking URI schemes MLflow opens (its SQL back-ends with or without a driver, a folder, a server).
TRACKING_SCHEMES = ("sqlite", "file", "http", "https", "postgresql", "mysql", "mssql", "databricks")


def check_experiment(cfg: DictConfig) -> None:
    """A ValueError naming the first config key whose value cannot work (see the module docstring)."""
    check_objective(cfg.objective, learner=cfg.get("learner") is not None and len(cfg.learner or {}) > 0)
    check_fraction("theta", cfg.theta)
    instantiate(cfg.get("replay"), where="replay")  # the record checks its thresholds (ReplaySettings)
    if cfg.tracking.enabled:
        check_tracking_uri(cfg.tracking.uri)


def check_objective(names: Any, learner: bool) -> None:
    """``objective``: one KPI name of the summary table or a non-empty list of them.
    ``learning_score`` and per-device learner metrics (``<device>/<metric>``) need a learner."""
    items = OmegaConf.to_container(names) if OmegaConf.is_list(names) else names
    listed = isinstance(items, list)
    if listed and not items:
        raise ValueError("objective=[]: name at least one KPI (e.g. energy_cost_eur)")
    for name in items if listed else [items]:
        key = f"objective={name!r}" if not listed else f"objective={items}: {name!r}"
        if not isinstance(name, str):
            raise ValueError(f"{key}: expected a KPI name such as energy_cost_eur")
        if name == "learning_score" or "/" in name:
            if not learner:
                raise ValueError(f"{key}: a learner metric, but the run has no learner (add learner=adaptive)")
            continue
        if name not in KPI_NAMES:
            near = difflib.get_close_matches(name, KPI_NAMES, n=1)
            hint = f"did you mean {near[0]}?" if near else f"KPIs: {', '.join(KPI_NAMES)}"
            raise ValueError(f"{key}: no such KPI ({hint})")


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{key}={value!r}: expected a finite number")
    return float(value)


def check_fraction(key: str, value: Any) -> None:
    if not 0 <= _number(key, value) <= 1:
        raise ValueError(f"{key}={value!r}: must be in [0, 1] (a PMF threshold)")


def check_tracking_uri(uri: Any) -> None:
    """A URI MLflow can open: a known scheme (``sqlite:///file.db``, ``http://host:port``, a folder)."""
    if not isinstance(uri, str) or not uri.strip():
        raise ValueError(f"tracking.uri={uri!r}: expected an MLflow tracking URI such as sqlite:///outputs/mlflow.db")
    parsed = urlparse(uri)
    scheme = parsed.scheme.split("+")[0]
    if len(scheme) <= 1:  # a plain path (a Windows drive letter parses as a one-letter scheme)
        return
    if scheme not in TRACKING_SCHEMES:
        raise ValueError(f"tracking.uri={uri}: unknown scheme {parsed.scheme!r} (use one of "
                         f"{', '.join(TRACKING_SCHEMES)}, e.g. sqlite:///outputs/mlflow.db, or tracking.enabled=false)")
    if scheme == "sqlite" and not parsed.path.strip("/"):
        raise ValueError(f"tracking.uri={uri}: no database file (e.g. sqlite:///outputs/mlflow.db)")
    if scheme in ("http", "https") and not parsed.netloc:
        raise ValueError(f"tracking.uri={uri}: no host (e.g. http://127.0.0.1:5000)")
