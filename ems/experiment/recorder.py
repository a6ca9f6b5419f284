"""Recording off the hot path: a run's plots and its MLflow logging, in a helper process.

Importing MLflow, opening its store and logging thousands of per-day metrics
take seconds; the replay does not need any of it. With
``tracking.background: true`` a :class:`Recorder` hands that work to two
helper processes per Python process (``python -m ems.experiment.recorder``: a
fresh interpreter, so it neither inherits the parent's threads nor re-runs the
parent's script): one draws the plots, one logs to MLflow. They are started by
the first run and kept for the next ones (a sweep's jobs in one process import
MLflow once); they import matplotlib and MLflow while the first replay
computes, then work in the order they are asked. Commands travel pickled over its stdin (a reader
thread drains them, so the parent never waits on a busy helper); answers come
back on a pipe of their own, so nothing the libraries print can garble them.
The helper ends when its parent does (its stdin closes).

:meth:`Recorder.close` waits until the run's work is done and raises the first
error met (one line naming what failed). A run is named by a handle from
:meth:`Recorder.start`, so no caller waits for MLflow's run id. With
``background: false``, or where no process can be started, the same work runs
in-process.
"""

from __future__ import annotations

import itertools
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the helper starts without polars; unpickling a frame imports it
    import polars as pl

log = logging.getLogger(__name__)


class RecordingError(ValueError):
    """Plots or MLflow logging failed; one line naming the tracking store and what failed.
    The run's files (config, summary, tables) are written before recording starts."""


@dataclass(frozen=True)
class TrackingTarget:
    """Where runs are logged: MLflow ``uri``, ``experiment`` name, ``artifact_root`` folder."""

    uri: str
    experiment: str
    artifact_root: str


@dataclass
class Work:
    """Carries out recording commands in order (in the helper process, or in-process)."""

    trackers: dict[TrackingTarget, Any] = field(default_factory=dict)
    runs: dict[int, str] = field(default_factory=dict)
    error: str | None = None

    def tracker(self, target: TrackingTarget):
        if target not in self.trackers:
            from ems.experiment.tracking import Tracker

            self.trackers[target] = Tracker(target.uri, target.experiment, target.artifact_root)
        return self.trackers[target]

    def run_id(self, handle: int | str | None) -> str | None:
        return self.runs.get(handle) if isinstance(handle, int) else handle

    def do(self, command: str, *args: Any) -> None:
        if command.startswith("warm"):
            try:
                getattr(self, f"_{command}")(*args)
            except Exception:  # noqa: BLE001 - a bad store fails again, and is reported, when a run starts
                log.debug("warm-up failed", exc_info=True)
            return
        if self.error is not None:
            return  # after a failure the rest of the run would only fail the same way
        try:
            getattr(self, f"_{command}")(*args)
        except Exception as exc:  # reported by Recorder.close, in the parent
            self.error = f"recording ({command}) failed: {type(exc).__name__}: {exc}"
            log.debug("recorder error", exc_info=True)

    def sync(self) -> str | None:
        """The first error since the last sync (and forget it)."""
        error, self.error = self.error, None
        return error

    def _warm(self, target: TrackingTarget | None) -> None:
        """Import MLflow (and its sqlite store) and, given a target, open the store, while the replay runs."""
        if target is not None:
            self.tracker(target)
            return
        import mlflow.store.tracking.sqlalchemy_store  # noqa: F401

        from ems.experiment import tracking  # noqa: F401

    def _warm_plots(self) -> None:
        from ems.experiment import plots  # noqa: F401 - import matplotlib while the replay runs

    def _start(self, target: TrackingTarget, handle: int, name: str, params: dict, tags: dict,
               parent: int | str | None) -> None:
        self.runs[handle] = self.tracker(target).start(name, params, tags, self.run_id(parent))

    def _daily(self, target: TrackingTarget, handle: int, daily: "pl.DataFrame", columns: list[str]) -> None:
        self.tracker(target).log_daily(self.run_id(handle), daily, columns)

    def _totals(self, target: TrackingTarget, handle: int, totals: dict[str, float]) -> None:
        self.tracker(target).log_totals(self.run_id(handle), totals)

    def _finish(self, target: TrackingTarget, handle: int, artifacts: str | None) -> None:
        self.tracker(target).finish(self.run_id(handle), Path(artifacts) if artifacts else None)

    def _plots(self, run_dir: str, steps: "pl.DataFrame", daily: "pl.DataFrame", title: str) -> None:
        from ems.experiment import plots

        out = Path(run_dir)
        best = daily.sort("savings_eur", descending=True)["local_date"][0]
        plots.day_schedule(steps, best, f"{title}: {best} (largest saving)", out / "day_schedule.png")
        plots.daily_costs(daily, f"{title}: daily energy cost", out / "daily_costs.png")
        plots.cumulative_savings(daily, f"{title}: cumulative savings vs baseline", out / "cumulative_savings.png")


def _serve(reply_fd: int) -> None:
    """The helper process: carry out the commands read from stdin; answer each ``sync`` on ``reply_fd``
    with the first error since the one before (or None); stop when stdin closes."""
    commands: queue.Queue = queue.Queue()

    def read() -> None:
        stdin = sys.stdin.buffer
        while True:
            try:
                message = pickle.load(stdin)
            except (EOFError, pickle.UnpicklingError):
                commands.put(None)
                return
            commands.put(message)

    threading.Thread(target=read, daemon=True).start()
    work = Work()
    with os.fdopen(reply_fd, "wb") as reply:
        while (message := commands.get()) is not None:
            command, args = message
            if command == "sync":
                pickle.dump(work.sync(), reply)
                reply.flush()
            else:
                work.do(command, *args)


class _Helper:
    """The helper process of this Python process and the two pipes to it."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        try:
            self.process = subprocess.Popen([sys.executable, "-m", "ems.experiment.recorder", str(write_fd)],
                                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, pass_fds=(write_fd,))
        except OSError:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self.reply = os.fdopen(read_fd, "rb")
        self.lock = threading.RLock()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, command: str, *args: Any) -> None:
        try:
            pickle.dump((command, args), self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.process.stdin.flush()
        except BrokenPipeError:
            pass  # the helper died; sync() reports it

    def sync(self) -> str | None:
        self.send("sync")
        try:
            return pickle.load(self.reply)
        except EOFError:
            return f"recording failed: the helper process ended with exit code {self.process.wait()}"


_helpers: dict[str, _Helper] = {}
_helpers_lock = threading.Lock()
_handles = itertools.count(1)


def _shared_helper(role: str) -> _Helper:
    """This process's helper for ``role`` (``plots`` or ``mlflow``), started on first use."""
    with _helpers_lock:
        helper = _helpers.get(role)
        if helper is None or not helper.alive:
            helper = _helpers[role] = _Helper()
        return helper


def prestart(tracking: bool = True) -> None:
    """Start this process's helpers now (the MLflow one only with ``tracking``), e.g. while Hydra
    composes the config: importing MLflow takes longer than a short replay."""
    try:
        _shared_helper("plots").send("warm_plots")
        if tracking:
            _shared_helper("mlflow").send("warm", None)
    except OSError as exc:  # the run records in-process then
        log.debug("no helper process: %s", exc)


class _Local:
    """The in-process stand-in for a helper."""

    def __init__(self) -> None:
        self.work = Work()
        self.lock = threading.RLock()

    def send(self, command: str, *args: Any) -> None:
        if not command.startswith("warm"):  # in-process: opened when first needed
            self.work.do(command, *args)

    def sync(self) -> str | None:
        return self.work.sync()


class Recorder:
    """Plots and MLflow runs of one ``run_experiment`` (``target`` None: plots only); see the module docstring.

    Two helpers share the work: one draws the plots (matplotlib imported early), one logs to
    MLflow; a run's artifacts are logged once its plots are drawn.
    """

    def __init__(self, target: TrackingTarget | None, background: bool = True) -> None:
        self.target = target
        self._asked = False  # anything beyond the warm-up
        self._plot_error: str | None = None  # met while waiting for a run's plots before its artifacts
        self._plots = self._mlflow = None
        if background:
            try:
                self._plots = _shared_helper("plots")
                self._mlflow = _shared_helper("mlflow") if target is not None else None
            except OSError as exc:
                log.warning("recording in-process (no helper process: %s)", exc)
                self._plots = self._mlflow = None
        if self._plots is None:
            self._plots = _Local()
            self._mlflow = self._plots if target is not None else None
        self._channels = [c for c in dict.fromkeys([self._plots, self._mlflow]) if c is not None]
        for channel in self._channels:
            channel.lock.acquire()  # one run at a time records through a shared helper
        self._plots.send("warm_plots")
        if self._mlflow is not None:
            self._mlflow.send("warm", target)

    @property
    def tracking(self) -> bool:
        return self.target is not None

    def _log(self, command: str, *args: Any) -> None:
        self._asked = True
        self._mlflow.send(command, self.target, *args)

    def start(self, name: str, params: dict[str, str], tags: dict[str, str], parent: int | str | None = None) -> int:
        """A handle for a new MLflow run (``parent``: a handle or an MLflow run id)."""
        handle = next(_handles)
        self._log("start", handle, name, params, tags, parent)
        return handle

    def log_daily(self, handle: int, daily: "pl.DataFrame", columns: list[str]) -> None:
        self._log("daily", handle, daily, columns)

    def log_totals(self, handle: int, totals: dict[str, float]) -> None:
        self._log("totals", handle, totals)

    def finish(self, handle: int, artifacts: Path | None = None) -> None:
        """End the run, logging the folder ``artifacts`` once the plots asked for before are drawn."""
        if artifacts is not None and self._plots is not self._mlflow:
            self._plot_error = self._plot_error or self._plots.sync()
        self._log("finish", handle, str(artifacts) if artifacts is not None else None)

    def plots(self, run_dir: Path, steps: "pl.DataFrame", daily: "pl.DataFrame", title: str) -> None:
        """Draw the run's three PNG plots into ``run_dir``."""
        self._asked = True
        self._plots.send("plots", str(run_dir), steps, daily, title)

    def close(self) -> None:
        """Wait until everything asked for is done; raise the first error met."""
        errors = [self._plot_error]
        try:
            errors += [channel.sync() for channel in self._channels]
        finally:
            for channel in self._channels:
                channel.lock.release()
        error = next((e for e in errors if e), None)
        if error:
            where = f"tracking.uri={self.target.uri}: " if self.target is not None else ""
            raise RecordingError(f"{where}{error}")

    def abandon(self, report: bool = True) -> None:
        """After a failed run: finish what was asked (logging, not raising, a recording error, unless
        ``report`` is false); with nothing asked, return at once (a helper may still be importing)."""
        if not self._asked:
            for channel in self._channels:
                channel.lock.release()
            return
        try:
            self.close()
        except RecordingError as exc:
            if report:
                log.error("%s", exc)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
