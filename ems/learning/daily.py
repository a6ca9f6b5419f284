"""The learner in the day loop (Pipeline B): train on the days before the period,
then after each replayed day score it (held-out) and learn it."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from ems.learning import state
from ems.learning.evaluate import HeldOut
from ems.learning.pmf import LearningSettings, ProbabilityModelAgent
from ems.data.calendar import DAY_TYPES, HOURS, day_type
from ems.learning.runs import RunSettings
from ems.learning.usage import Usage, load_usage, start_histogram

log = logging.getLogger(__name__)


def target(usage: Usage, device: str, day: date, starts: bool) -> np.ndarray:
    """What is learned of ``device`` on ``day``, as counts over the 24 local hours: its runs' start
    hours when ``starts`` (a discrete-phase device: the plan schedules starts), else the hours it
    was used (an energy window, the EV: the plan schedules energy per hour)."""
    if not starts:
        return usage.indicator(device, day)
    return np.bincount(np.asarray(usage.start_hours(device, day), int), minlength=HOURS).astype(float)


class DailyLearner:
    """A :class:`ProbabilityModelAgent` fed by the building's meters.

    ``train_days`` local days before the period are learned first (no
    scheduling); then, after each scheduled day, that day's events are scored
    under the PMFs held the evening before and the day is learned. What is
    learned is what is scheduled (:func:`target`): start hours of a
    discrete-phase device, usage hours of an energy window. With
    ``resume`` the state at ``state_path`` is loaded first and days already
    learned are neither learned nor scored again.
    """

    def __init__(self, prior, settings: LearningSettings | None = None, runs: RunSettings | None = None,
                 train_days: int = 60, smoothing: float = 1.0, state_path: str | None = None, resume: bool = False,
                 name: str = "adaptive"):
        if train_days < 0:
            raise ValueError(f"learner.train_days={train_days} must be >= 0")
        self.agent = ProbabilityModelAgent(prior, settings or LearningSettings(), name)
        self.runs, self.train_days, self.smoothing = runs or RunSettings(), train_days, smoothing
        self.state_path = Path(state_path) if state_path else None
        self.name = name
        self.heldout = HeldOut()
        self.usage: Usage | None = None
        if resume and self.state_path is not None and state.load(self.agent, self.state_path):
            log.info("resumed %d learned device-days from %s", len(self.agent.learned), self.state_path)

    def pmf(self, device: str, day: date) -> np.ndarray:
        """The PMF held now for ``day`` (24 local hours)."""
        return self.agent.pmf(device, day)

    def prepare(self, store, building, first: date, last: date) -> None:
        """Load the meters' usage and learn the ``train_days`` days before ``first``."""
        start = first - timedelta(days=self.train_days)
        self.usage = load_usage(store, building, start, last, self.runs)
        self.starts = set(building.devices_of("discrete_phase"))
        training = self.usage.events.filter(self.usage.events["local_date"] < first)
        self._static = {(d, t): start_histogram(training, d, t, self.smoothing)
                        for d in self.usage.learnable_days for t in DAY_TYPES}
        for offset in range(self.train_days):
            self._learn(start + timedelta(days=offset), score=False)

    def after_day(self, day: date) -> None:
        """Score ``day`` under the PMFs held before it, then learn it."""
        self._learn(day, score=True)

    def _learn(self, day: date, score: bool) -> None:
        kind = day_type(day)
        for device, days in self.usage.learnable_days.items():
            if day not in days or (device, day) in self.agent.learned:
                continue
            if score:
                pmfs = {"learned": self.agent.pmf_of(device, kind), "uniform": np.full(HOURS, 1.0 / HOURS),
                        "static": self._static[device, kind]}
                self.heldout.score(device, self.usage.start_hours(device, day), pmfs)
            self.agent.observe(device, day, (target(self.usage, device, day, device in self.starts) > 0).astype(float))

    def metrics(self) -> dict[str, float]:
        """learning_score and per-device held-out NLL / top-3 for the KPI table and MLflow."""
        out = {"learning_score": self.heldout.learning_score()}
        for device, row in self.heldout.table().items():
            out.update({f"{device}/{k}": v for k, v in row.items()})
        return out

    def finish(self, out_dir: Path) -> list[Path]:
        """Persist the state, write the update archive and the learning plots; print the convergence lines."""
        from ems.learning import plots

        state.save(self.agent, self.state_path or out_dir / "learner_state.duckdb")
        updates = state.updates_frame(self.agent)
        files = []
        if not updates.is_empty():
            updates.write_parquet(out_dir / "pmf_updates.parquet")
            files = plots.learning_plots(updates, out_dir)
        for line in self.agent.summary():
            print(line)
        return files


class RuleLearner:
    """The day loop of :class:`DailyLearner` with any online rule of :mod:`ems.learning.learners`
    (forgetting histogram, Dirichlet, kernel; ``learner=forgetting|dirichlet|kernel``): trained on
    ``train_days`` days before the period, then each scheduled day is scored before it is learned.
    Its state lives in the run (no resume); ``finish`` writes the final PMFs."""

    def __init__(self, rule, runs: RunSettings | None = None, train_days: int = 60, smoothing: float = 1.0,
                 name: str | None = None):
        if train_days < 0:
            raise ValueError(f"learner.train_days={train_days} must be >= 0")
        self.rule, self.runs, self.train_days, self.smoothing = rule, runs or RunSettings(), train_days, smoothing
        self.name = name or rule.name
        self.heldout = HeldOut()
        self.usage: Usage | None = None
        self._seen: set[tuple[str, date]] = set()

    def pmf(self, device: str, day: date) -> np.ndarray:
        return self.rule.pmf(device, day_type(day))

    def prepare(self, store, building, first: date, last: date) -> None:
        start = first - timedelta(days=self.train_days)
        self.usage = load_usage(store, building, start, last, self.runs)
        self.starts = set(building.devices_of("discrete_phase"))
        training = self.usage.events.filter(self.usage.events["local_date"] < first)
        self._static = {(d, t): start_histogram(training, d, t, self.smoothing)
                        for d in self.usage.learnable_days for t in DAY_TYPES}
        for offset in range(self.train_days):
            self._learn(start + timedelta(days=offset), score=False)

    def after_day(self, day: date) -> None:
        self._learn(day, score=True)

    def _learn(self, day: date, score: bool) -> None:
        kind = day_type(day)
        for device, days in self.usage.learnable_days.items():
            if day not in days or (device, day) in self._seen:
                continue
            if score:
                pmfs = {"learned": self.rule.pmf(device, kind), "uniform": np.full(HOURS, 1.0 / HOURS),
                        "static": self._static[device, kind]}
                self.heldout.score(device, self.usage.start_hours(device, day), pmfs)
            self.rule.observe(device, day, kind, target(self.usage, device, day, device in self.starts))
            self._seen.add((device, day))

    def metrics(self) -> dict[str, float]:
        out = {"learning_score": self.heldout.learning_score()}
        for device, row in self.heldout.table().items():
            out.update({f"{device}/{k}": v for k, v in row.items()})
        return out

    def finish(self, out_dir: Path) -> list[Path]:
        """The final PMF of every device and day type: ``learner_pmfs.parquet`` (device, day_type, hour, p)."""
        import polars as pl

        rows = [(d, t, h, float(p)) for d in sorted(self.usage.learnable_days) for t in DAY_TYPES
                for h, p in enumerate(self.rule.pmf(d, t))]
        path = Path(out_dir) / "learner_pmfs.parquet"
        pl.DataFrame(rows, schema=["device", "day_type", "hour", "p"], orient="row").write_parquet(path)
        return [path]
