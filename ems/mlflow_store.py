"""The project's MLflow store: a sqlite database whose schema is built once per MLflow version,
and experiments created with their artifacts under ``paths.output_dir``.

MLflow builds a fresh sqlite store by running its ~60 schema migrations
(about 1 s). ems runs them once per installed MLflow version into a template
(``$EMS_CACHE_DIR``, default ``~/.cache/ems``) and copies it for every new
store; MLflow then finds its tables at the current revision, verifies them
and adds the default experiment as usual. ``mlflow`` itself is imported
only when a store is opened.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from ems.data.atomic import file_lock

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

if TYPE_CHECKING:
    import filelock
    import mlflow

CACHE_ENV = "EMS_CACHE_DIR"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (None for other back-ends or in-memory sqlite)."""
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite" or not parsed.path or parsed.path in ("/", "/:memory:"):
        return None
    return Path(parsed.path[1:])  # sqlite:///relative/file.db, sqlite:////absolute/file.db


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ems")


def schema_template() -> Path:
    """A sqlite file holding MLflow's current schema and nothing else (built on first use, atomically)."""
    import mlflow
    import sqlalchemy
    from mlflow.store.db import utils

    template = cache_dir() / f"mlflow-{mlflow.__version__}-schema.db"
    if template.is_file():
        return template
    template.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=template.name, suffix=".tmp", dir=template.parent)
    os.close(fd)
    try:
        engine = sqlalchemy.create_engine(f"sqlite:///{tmp}")
        try:
            utils._initialize_tables(engine)
        finally:
            engine.dispose()
        os.replace(tmp, template)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return template


def prepare_store(uri: str) -> None:
    """Give a sqlite store that does not exist yet MLflow's schema by copying the template.

    Safe under concurrency: the copy is linked into place only if no other
    process created the store first. Other back-ends are left to MLflow.
    """
    path = sqlite_path(uri)
    if path is None or path.exists():
        return
    template = schema_template()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        shutil.copyfile(template, tmp)
        try:
            os.link(tmp, path)  # fails if another process put a store there meanwhile: keep theirs
        except FileExistsError:
            pass
    finally:
        Path(tmp).unlink(missing_ok=True)


#: Seconds a process waits for another one to finish creating the same store before giving up.
LOCK_TIMEOUT_S = 120.0


def store_lock(uri: str) -> "filelock.BaseFileLock | contextlib.nullcontext":
    """A file lock (``<database>.lock``) held while a sqlite store is created or an experiment added:
    two processes creating a fresh store or the same experiment at once would otherwise race
    (MLflow's default-experiment insert fails in one of them). Other back-ends: no lock."""
    path = sqlite_path(uri)
    if path is None:
        return contextlib.nullcontext()
    path.parent.mkdir(parents=True, exist_ok=True)
    return file_lock(path, LOCK_TIMEOUT_S)


def client(uri: str) -> "mlflow.MlflowClient":
    """An MLflow client on ``uri`` whose store is ready: a new sqlite store gets its schema from the
    template and MLflow's default experiment, under :func:`store_lock`."""
    import mlflow

    with store_lock(uri):
        prepare_store(uri)
        opened = mlflow.MlflowClient(uri)
        if sqlite_path(uri) is not None:
            opened.get_experiment_by_name("Default")  # opens the store: MLflow adds its default experiment
    return opened


def ensure_experiment(client: "mlflow.MlflowClient", name: str, artifact_root: str) -> str:
    """The id of experiment ``name``, created with its artifacts below ``artifact_root``
    (never MLflow's default ``./mlruns`` in whatever folder the command runs from)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    with store_lock(client.tracking_uri):
        found = client.get_experiment_by_name(name)  # another process may have created it meanwhile
        if found is not None:
            return found.experiment_id
        return client.create_experiment(name, artifact_location=Path(artifact_root, name).resolve().as_uri())
