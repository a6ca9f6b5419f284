"""Shared fixtures: a real DuckDB store built from the shipped data, once per session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ems.config import load_config, project_root
from ems.data.ingest import ingest, shipped_paths

ROOT = project_root()
FIXTURES = Path(__file__).parent / "fixtures"
DATA = ROOT / "data"
LEGACY_FIXTURE = FIXTURES / "opsd_legacy_residential4_2015-10-20_2015-11-04.csv"

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="session")
def data_cfg(tmp_path_factory):
    """The data config with the database in a session temp folder."""
    out = tmp_path_factory.mktemp("outputs")
    return load_config([f"paths.output_dir={out}"]).data


@pytest.fixture(scope="session")
def shipped_db(data_cfg) -> Path:
    """A real DuckDB file holding all shipped data (ingested once per session)."""
    ingest(shipped_paths(data_cfg), data_cfg)
    return Path(data_cfg.db)


def run_cli(*args: str, cwd: Path | None = None, check: bool = False) -> subprocess.CompletedProcess:
    """Run ``python <args>`` as a user would, from the project root."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "HYDRA_FULL_ERROR": "0"}
    result = subprocess.run([sys.executable, *args], cwd=cwd or ROOT, capture_output=True, text=True, env=env,
                            timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for a real server started by a test)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
