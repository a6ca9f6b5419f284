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


class _DayLoop:
    """What every learner in the day loop shares: load the meters' usage, learn ``train_days`` days
    before the period, then after each scheduled day score it (held-out, beside uniform and the
    static histogram of the training days) before learning it. A subclass says what its PMF is
    (``_pmf_of``), how it learns a day (``_observe``) and which (device, day) it has seen."""

    def _setup(self, runs: RunSettings | None, train_days: int, smoothing: float) -> None:
        if train_days < 0:
            raise ValueError(f"learner.train_days={train_days} must be >= 0")
        self.runs, self.train_days, self.smoothing = runs or RunSettings(), train_days, smoothing
        self.heldout = HeldOut()
        self.usage: Usage | None = None

    def pmf(self, device: str, day: date) -> np.ndarray:
        """The PMF held now for ``day`` (24 local hours)."""
        return self._pmf_of(device, day_type(day))

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
            if day not in days or self._seen(device, day):
                continue
            if score:
                pmfs = {"learned": self._pmf_of(device, kind), "uniform": np.full(HOURS, 1.0 / HOURS),
                        "static": self._static[device, kind]}
                self.heldout.score(device, self.usage.start_hours(device, day), pmfs)
            self._observe(device, day, kind, target(self.usage, device, day, device in self.starts))

    def metrics(self) -> dict[str, float]:
        """learning_score and per-device held-out NLL / top-3 for the KPI table and MLflow."""
        out = {"learning_score": self.heldout.learning_score()}
        for device, row in self.heldout.table().items():
            out.update({f"{device}/{k}": v for k, v in row.items()})
        return out

    def _pmf_of(self, device: str, kind: str) -> np.ndarray:
        raise NotImplementedError

    def _observe(self, device: str, day: date, kind: str, counts: np.ndarray) -> None:
        raise NotImplementedError

    def _seen(self, device: str, day: date) -> bool:
        raise NotImplementedError


class DailyLearner(_DayLoop):
    """A :class:`ProbabilityModelAgent` (the seed's rule) fed by the building's meters.

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
        self._setup(runs, train_days, smoothing)
        self.agent = ProbabilityModelAgent(prior, settings or LearningSettings(), name)
        self.state_path = Path(state_path) if state_path else None
        self.name = name
        if resume and self.state_path is not None and state.load(self.agent, self.state_path):
            log.info("resumed %d learned device-days from %s", len(self.agent.learned), self.state_path)

    def _pmf_of(self, device: str, kind: str) -> np.ndarray:
        return self.agent.pmf_of(device, kind)

    def _observe(self, device: str, day: date, kind: str, counts: np.ndarray) -> None:
        self.agent.observe(device, day, (counts > 0).astype(float))

    def _seen(self, device: str, day: date) -> bool:
        return (device, day) in self.agent.learned

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


class RuleLearner(_DayLoop):
    """The day loop of :class:`DailyLearner` with any online rule of :mod:`ems.learning.learners`
    (forgetting histogram, Dirichlet, kernel; ``learner=forgetting|dirichlet|kernel``): trained on
    ``train_days`` days before the period, then each scheduled day is scored before it is learned.
    Its state lives in the run (no resume); ``finish`` writes the final PMFs."""

    def __init__(self, rule, runs: RunSettings | None = None, train_days: int = 60, smoothing: float = 1.0,
                 name: str | None = None):
        self._setup(runs, train_days, smoothing)
        self.rule, self.name = rule, name or rule.name
        self._learned: set[tuple[str, date]] = set()

    def _pmf_of(self, device: str, kind: str) -> np.ndarray:
        return self.rule.pmf(device, kind)

    def _observe(self, device: str, day: date, kind: str, counts: np.ndarray) -> None:
        self.rule.observe(device, day, kind, counts)
        self._learned.add((device, day))

    def _seen(self, device: str, day: date) -> bool:
        return (device, day) in self._learned

    def finish(self, out_dir: Path) -> list[Path]:
        """The final PMF of every device and day type: ``learner_pmfs.parquet`` (device, day_type, hour, p)."""
        import polars as pl

        rows = [(d, t, h, float(p)) for d in sorted(self.usage.learnable_days) for t in DAY_TYPES
                for h, p in enumerate(self.rule.pmf(d, t))]
        path = Path(out_dir) / "learner_pmfs.parquet"
        pl.DataFrame(rows, schema=["device", "day_type", "hour", "p"], orient="row").write_parquet(path)
        return [path]
