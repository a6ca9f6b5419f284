"""The evaluation's experiment runs: each a list of config overrides, run as ``run.py`` would run it, in
parallel processes, each in its own folder with its exact config (``config.yaml``), its overrides, its
summary and its log.

A job that fails at run time is kept as failed (its one-line error in the report and in ``FAILED``); the
others go on. Configs are composed and checked before any job starts, so a bad key is one line and
nothing runs.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ems.config import load_config
from ems.data.errors import DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One experiment run: ``name`` is its folder under ``runs/`` (e.g. ``savings/residential4/cost_only``)."""

    name: str
    overrides: tuple[str, ...]
    weight: float = 1.0  # rough relative cost (days x passes): the heaviest start first


@dataclass
class JobResult:
    """What a job produced: the first (only) column of its KPI totals, or its error."""

    job: Job
    folder: Path
    totals: dict[str, float] = field(default_factory=dict)
    title: str = ""
    seconds: float = 0.0
    error: str | None = None

    @property
    def config_path(self) -> Path:
        return self.folder / "config.yaml"


def common_overrides(output_dir: str, track: bool, name: str, user: list[str]) -> list[str]:
    """Overrides every job shares: the store and outputs of the evaluating config, tracking (off unless
    ``track``; never in helper processes, each job being one already), then the user's ``--set`` keys."""
    return [f"paths.output_dir={output_dir}", f"tracking.enabled={str(track).lower()}", "tracking.background=false",
            f"name=evaluation_{name}", *user]


def check_jobs(jobs: list[Job], common: list[str]) -> None:
    """Compose every job's config and check it (a ValueError naming the job and the key)."""
    from ems.experiment.preflight import check_experiment

    for job in jobs:
        try:
            check_experiment(load_config([*common, *job.overrides]))
        except Exception as exc:  # noqa: BLE001 - Hydra's override and composition errors too
            raise ValueError(f"evaluation job {job.name} ({' '.join(job.overrides)}): "
                             f"{str(exc).splitlines()[0]}") from None


def run_jobs(jobs: list[Job], runs_dir: Path, common: list[str], n_jobs: int) -> dict[str, JobResult]:
    """Run ``jobs`` (``n_jobs`` processes at a time), a progress bar on a terminal; name -> result."""
    from joblib import Parallel, delayed

    unique = list({job.name: job for job in jobs}.values())
    unique.sort(key=lambda j: -j.weight)
    if not unique:
        return {}
    runner = Parallel(n_jobs=min(n_jobs, len(unique)), return_as="generator_unordered")
    results = runner(delayed(run_job)(job, runs_dir, common) for job in unique)
    out: dict[str, JobResult] = {}
    for result in tqdm(results, total=len(unique), desc="evaluation runs", unit="run", disable=None):
        out[result.job.name] = result
        if result.error:
            log.error("evaluation job %s failed: %s", result.job.name, result.error)
    return out


@contextmanager
def captured(path: Path) -> Iterator[None]:
    """Prints, progress bars and log lines (INFO and up) of the block go to the file ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as stream, redirect_stdout(stream), redirect_stderr(stream):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        level, root.level = root.level, logging.INFO
        try:
            yield
        finally:
            root.removeHandler(handler)
            root.level = level


def call_captured(path: Path, fn: Callable, *args):
    """``fn(*args)`` with its output in the file ``path`` (for the evaluation's non-experiment tasks)."""
    with captured(Path(path)):
        return fn(*args)


def run_job(job: Job, runs_dir: Path, common: list[str]) -> JobResult:
    """Run one job in ``runs_dir/<name>``; its prints and log lines go to ``job.log`` there."""
    from ems.experiment.runner import execute

    folder = Path(runs_dir) / job.name
    folder.mkdir(parents=True, exist_ok=True)
    overrides = [*common, *job.overrides]
    (folder / "overrides.txt").write_text("\n".join(overrides) + "\n")
    result = JobResult(job, folder)
    started = time.perf_counter()
    with captured(folder / "job.log"):
        try:
            columns, result.title = execute(load_config(overrides), folder)
            result.totals = next(iter(columns.values()))
        except (DataError, ValueError) as exc:
            result.error = str(exc).splitlines()[0]
        except Exception as exc:  # noqa: BLE001 - one broken job must not lose the others
            result.error = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
    result.seconds = time.perf_counter() - started
    if result.error:
        (folder / "FAILED").write_text(result.error + "\n")
    return result
