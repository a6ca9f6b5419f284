"""Hydra callbacks: prepare shared state before any job starts, close it after.

Before a run: create ``paths.output_dir``. Before a sweep: check the config
(:mod:`ems.experiment.preflight`, one line and exit 2 before any job runs),
build the DuckDB store if missing (so workers only ever open it read-only),
create the MLflow sqlite schema and experiment under a file lock (two
processes racing to create a fresh database fail), and open a parent MLflow
run whose id the jobs read from ``<sweep dir>/mlflow_parent_run_id``; each
job's run becomes its child.

After a sweep the parent run is closed ``FINISHED``, or ``FAILED`` when a
job failed (each failed job leaves a ``FAILED`` file in its folder); the
sweep then exits 1 with the count. A sweep that ends any other way (an
exception, Ctrl-C, SIGTERM) closes its parent ``KILLED`` on the way out.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)
PARENT_FILE = "mlflow_parent_run_id"
#: Exit status of a sweep in which some jobs failed.
JOBS_FAILED = 1


def parent_run_id(sweep_dir: Path) -> str | None:
    """The sweep's parent MLflow run id, if the callback opened one."""
    path = Path(sweep_dir) / PARENT_FILE
    return path.read_text().strip() if path.is_file() else None


def job_outcomes(sweep_dir: Path) -> tuple[int, list[Path]]:
    """(jobs launched, FAILED files) of a sweep folder (a job folder holds Hydra's ``.hydra``)."""
    jobs = [p.parent for p in Path(sweep_dir).glob("**/.hydra") if p.parent != Path(sweep_dir)]
    return len(jobs), sorted(p / "FAILED" for p in jobs if (p / "FAILED").is_file())


def _fail(message: str, status: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(status)


class PrepareOutputs(Callback):
    """See the module docstring."""

    def __init__(self) -> None:
        self._open: tuple[Any, str] | None = None  # (tracker, parent run id) until the parent is closed

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        Path(config.paths.output_dir).mkdir(parents=True, exist_ok=True)  # one job: nothing to race for

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from ems.data.errors import DataError
        from ems.data.ingest import ensure_database
        from ems.experiment.preflight import check_experiment

        try:  # Hydra turns a callback's exception into a warning: stop the sweep here instead
            check_experiment(config)
            Path(config.paths.output_dir).mkdir(parents=True, exist_ok=True)
            ensure_database(config.data)
            if not config.tracking.enabled:
                return
            from ems.experiment.tracking import Tracker

            tracker = Tracker(config.tracking.uri, config.name, config.tracking.artifact_root)
            sweep_dir = Path(config.hydra.sweep.dir)
            sweep_dir.mkdir(parents=True, exist_ok=True)
            run_id = tracker.start(f"sweep {config.name}", {"sweeper": config.hydra.sweeper._target_,
                                                            "launcher": config.hydra.launcher._target_},
                                   {"sweep_dir": str(sweep_dir)})
        except (DataError, ValueError) as exc:
            _fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - e.g. the tracking store cannot be opened
            _fail(f"tracking.uri={config.tracking.uri}: could not open the sweep's parent run "
                  f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
        (sweep_dir / PARENT_FILE).write_text(run_id)
        self._open = (tracker, run_id)
        atexit.register(self._close_killed)
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, self._terminated)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs, failed = job_outcomes(sweep_dir)
        if self._open is not None:
            tracker, run_id = self._open
            tracker.log_totals(run_id, {"jobs": jobs, "jobs_failed": len(failed)})
            tracker.finish(run_id, status="FAILED" if failed else "FINISHED")
            self._open = None
        if failed:
            shown = ", ".join(str(p.relative_to(sweep_dir).parent) for p in failed[:10])
            _fail(f"{len(failed)} of {jobs} sweep jobs failed (jobs {shown}; see FAILED in each job folder "
                  f"under {sweep_dir})", JOBS_FAILED)

    def _terminated(self, signum: int, _frame: Any) -> None:
        """SIGTERM: close the parent run, then end as SIGTERM would have (an exception raised here
        could land in any frame, e.g. a finalizer that swallows it)."""
        self._close_killed()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def _close_killed(self) -> None:
        """The sweep ended without on_multirun_end: close its parent run KILLED."""
        if self._open is None:
            return
        tracker, run_id = self._open
        self._open = None
        try:
            tracker.finish(run_id, status="KILLED")
        except Exception as exc:  # noqa: BLE001 - at exit: report, never raise
            log.error("could not close the sweep's parent run %s: %s", run_id, exc)
