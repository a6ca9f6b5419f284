"""Recording off the hot path: a run's plots and its MLflow logging, in a helper process.

Importing MLflow, opening its store and logging thousands of per-day metrics
take seconds; the replay does not need any of it. With
``tracking.background: true`` a :class:`Recorder` hands that work to one
helper process per Python process (``python -m ems.experiment.recorder``: a
fresh interpreter, so it neither inherits the parent's threads nor re-runs the
parent's script). The helper is started by the first run and kept for the
next ones (a sweep's jobs in one process import MLflow once); it imports
MLflow while the first replay computes, then draws the plots and logs the runs
in the order it is asked. Commands travel pickled over its stdin (a reader
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
from typing import Any

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
        if command == "warm":
            try:
                self._warm(*args)
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
        if target is not None:
            self.tracker(target)  # import MLflow and open the store while the replay runs

    def _start(self, target: TrackingTarget, handle: int, name: str, params: dict, tags: dict,
               parent: int | str | None) -> None:
        self.runs[handle] = self.tracker(target).start(name, params, tags, self.run_id(parent))

    def _daily(self, target: TrackingTarget, handle: int, daily: pl.DataFrame, columns: list[str]) -> None:
        self.tracker(target).log_daily(self.run_id(handle), daily, columns)

    def _totals(self, target: TrackingTarget, handle: int, totals: dict[str, float]) -> None:
        self.tracker(target).log_totals(self.run_id(handle), totals)

    def _finish(self, target: TrackingTarget, handle: int, artifacts: str | None) -> None:
        self.tracker(target).finish(self.run_id(handle), Path(artifacts) if artifacts else None)

    def _plots(self, run_dir: str, steps: pl.DataFrame, daily: pl.DataFrame, title: str) -> None:
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


_helper: _Helper | None = None
_helper_lock = threading.Lock()
_handles = itertools.count(1)


def _shared_helper() -> _Helper:
    global _helper
    with _helper_lock:
        if _helper is None or not _helper.alive:
            _helper = _Helper()
        return _helper


class Recorder:
    """Plots and MLflow runs of one ``run_experiment`` (``target`` None: plots only); see the module docstring."""

    def __init__(self, target: TrackingTarget | None, background: bool = True) -> None:
        self.target = target
        self.started = 0
        self._asked = False  # anything beyond the warm-up
        self._work: Work | None = None
        self._helper: _Helper | None = None
        if background:
            try:
                self._helper = _shared_helper()
            except OSError as exc:
                log.warning("recording in-process (no helper process: %s)", exc)
        if self._helper is None:
            self._work = Work()
        else:
            self._helper.lock.acquire()  # one run at a time records through the shared helper
            self._send("warm", target)

    @property
    def tracking(self) -> bool:
        return self.target is not None

    def _send(self, command: str, *args: Any) -> None:
        self._asked = self._asked or command != "warm"
        if self._work is not None:
            if command != "warm":  # in-process: MLflow is opened when first needed
                self._work.do(command, *args)
        else:
            self._helper.send(command, *args)

    def start(self, name: str, params: dict[str, str], tags: dict[str, str], parent: int | str | None = None) -> int:
        """A handle for a new MLflow run (``parent``: a handle or an MLflow run id)."""
        handle = next(_handles)
        self.started += 1
        self._send("start", self.target, handle, name, params, tags, parent)
        return handle

    def log_daily(self, handle: int, daily: pl.DataFrame, columns: list[str]) -> None:
        self._send("daily", self.target, handle, daily, columns)

    def log_totals(self, handle: int, totals: dict[str, float]) -> None:
        self._send("totals", self.target, handle, totals)

    def finish(self, handle: int, artifacts: Path | None = None) -> None:
        """End the run, logging the folder ``artifacts`` (after every plot asked for before)."""
        self._send("finish", self.target, handle, str(artifacts) if artifacts is not None else None)

    def plots(self, run_dir: Path, steps: pl.DataFrame, daily: pl.DataFrame, title: str) -> None:
        """Draw the run's three PNG plots into ``run_dir``."""
        self._send("plots", str(run_dir), steps, daily, title)

    def close(self) -> None:
        """Wait until everything asked for is done; raise the first error met."""
        if self._work is not None:
            error = self._work.sync()
        else:
            try:
                error = self._helper.sync()
            finally:
                self._helper.lock.release()
        if error:
            where = f"tracking.uri={self.target.uri}: " if self.target is not None else ""
            raise RecordingError(f"{where}{error}")

    def abandon(self) -> None:
        """After a failed run: finish what was asked (logging, not raising, a recording error); with
        nothing asked, return at once (the helper may still be importing MLflow)."""
        if not self._asked:
            if self._helper is not None:
                self._helper.lock.release()
            return
        try:
            self.close()
        except RecordingError as exc:
            log.error("%s", exc)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
