"""Shared fixtures: a real DuckDB store built from the shipped data, once per session."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
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


class Server:
    """``python -m ems serve`` (or ``command``, e.g. ``dashboard``) as a user starts it; ready when
    ``ready`` answers 200."""

    def __init__(self, overrides: list[str], command: str = "serve", ready: str = "/health"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "ems", command, "--host", "127.0.0.1", "--port", str(self.port)]
        for o in overrides:
            args += ["--set", o]
        self.log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty server never blocks on a full pipe
        self.proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if self.status(ready) == 200:
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"server did not start: {self.output()[-2000:]}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def status(self, path: str) -> int:
        """The HTTP status of GET ``path`` (any content type)."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=60) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def call(self, method: str, path: str, body=None, raw: bytes | None = None) -> tuple[int, dict]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)

    def kill(self) -> None:
        """kill -9: no shutdown handlers run."""
        self.proc.kill()
        self.proc.wait(timeout=30)
