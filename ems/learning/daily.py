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


class DailyLearner:
    """A :class:`ProbabilityModelAgent` fed by the building's meters.

    ``train_days`` local days before the period are learned first (no
    scheduling); then, after each scheduled day, that day's events are scored
    under the PMFs held the evening before and the day is learned. With
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
            self.agent.observe(device, day, self.usage.indicator(device, day))

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
