"""The online usage learners (ems.learning.learners) by hand, and the learning benchmark on the shipped data."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from hydra.utils import instantiate

from conftest import run_cli
from ems.config import load_config
from ems.data.calendar import WHOLE_RECORD
from ems.data.store import Store
from ems.learning.benchmark import benchmark_device
from ems.learning.learners import LEARNERS, DirichletLearner, ForgettingLearner, KernelLearner
from ems.learning.runs import RunSettings
from ems.learning.usage import Usage, load_usage

DAY = date(2016, 1, 4)


def _one_at(hour: int, count: float = 1.0) -> np.ndarray:
    target = np.zeros(24)
    target[hour] = count
    return target


def test_the_forgetting_histogram_by_hand():
    learner = ForgettingLearner(decay=0.5, smoothing=1.0)
    learner.observe("dishwasher", DAY, "weekday", _one_at(3))
    learner.observe("dishwasher", DAY, "weekday", _one_at(3))
    # counts[3] = 0.5 x 1 + 1 = 1.5; PMF = (counts + 1 x 24 x 1/24) / (1.5 + 24)
    assert learner.pmf("dishwasher", "weekday")[3] == pytest.approx(2.5 / 25.5)
    assert learner.pmf("dishwasher", "weekend")[3] == pytest.approx(1 / 24)  # day types apart


def test_the_dirichlet_posterior_by_hand():
    learner = DirichletLearner(strength=24.0, decay=1.0)  # alpha = 1 per hour before any evidence
    learner.observe("washer", DAY, "weekday", _one_at(5, 2.0))
    alpha_total = 26.0
    assert learner.pmf("washer", "weekday")[5] == pytest.approx(3 / alpha_total)
    mean = 3 / alpha_total
    assert learner.std("washer", "weekday")[5] == pytest.approx(np.sqrt(mean * (1 - mean) / (alpha_total + 1)))


def test_the_kernel_spreads_over_neighbouring_hours_across_midnight():
    learner = KernelLearner(decay=1.0, smoothing=0.01, bandwidth_h=1.0)
    learner.observe("dishwasher", DAY, "weekday", _one_at(0, 10.0))
    pmf = learner.pmf("dishwasher", "weekday")
    assert pmf[23] == pytest.approx(pmf[1]) and pmf[1] > pmf[2] > pmf[12]
    assert pmf.sum() == pytest.approx(1.0)


@pytest.fixture(scope="module")
def r4_usage(shipped_db):
    building = instantiate(load_config(["building=residential4"]).building)
    with Store(shipped_db) as store:
        return load_usage(store, building, *WHOLE_RECORD, RunSettings())


def test_no_learner_reads_the_day_it_is_scored_on(r4_usage):
    """The dishwasher's last held-out day with a run: move that day's starts to 03:00 and check that every
    PMF scored before it, and the PMF it is scored under, stay the same."""
    row = benchmark_device(r4_usage, "residential4", "dishwasher", True, 60)
    last = r4_usage.events.filter(pl.col("device") == "dishwasher")["local_date"].max()
    moved = r4_usage.events.with_columns(start_hour=pl.when((pl.col("device") == "dishwasher") &
                                                             (pl.col("local_date") == last))
                                         .then(pl.lit(3, pl.Int8)).otherwise(pl.col("start_hour")))
    other = benchmark_device(Usage(moved, r4_usage.used, r4_usage.learnable_days), "residential4", "dishwasher",
                             True, 60)
    for name, score in row.scores.items():
        again = other.scores[name]
        assert len(score.predicted) == len(again.predicted) > 30
        assert all(np.array_equal(a, b) for a, b in zip(score.predicted, again.predicted)), name
    # ... while the moved starts themselves are scored differently.
    assert any(row.scores[name].nll != other.scores[name].nll for name in LEARNERS)


def test_the_learning_benchmark_prints_one_row_per_device(shipped_db, tmp_path):
    result = run_cli("-m", "ems", "learning-benchmark", "residential4", f"--set=paths.db={shipped_db}",
                     f"--set=paths.output_dir={tmp_path}", check=True)
    lines = [line for line in result.stdout.splitlines() if line.startswith("residential4")]
    assert [line.split()[1] for line in lines] == ["dishwasher", "washing_machine", "heat_pump", "ev"]
    assert "uniform" in result.stdout and "static" in result.stdout and "dirichlet" in result.stdout
    for line in lines:  # uniform's NLL is ln 24 on every device
        assert line.split()[5] == "3.178"


def test_adaptation_changes_only_what_the_experiment_says(r4_usage):
    from dataclasses import replace as with_

    from ems.learning.adaptation import AdaptationSettings, change_days, changed_targets, days_to_adapt

    s = AdaptationSettings()
    change = change_days(r4_usage, "dishwasher", s)["habit_shift"]
    real, _ = changed_targets(r4_usage, "dishwasher", "season", change, s)  # season: the real data as it is
    shifted, end = changed_targets(r4_usage, "dishwasher", "habit_shift", change, s)
    assert end == change and set(real) == set(shifted)
    for day, target in real.items():
        assert np.array_equal(shifted[day], np.roll(target, 3) if day >= change else target)
    away, back = changed_targets(r4_usage, "dishwasher", "vacation", change, s)
    assert (back - change).days == 7 and all(away[d].sum() == 0 for d in away if change <= d < back)
    assert all(np.array_equal(away[d], real[d]) for d in real if d < change or d >= back)
    # A shift of 0 hours changes nothing: every learner is back at its level as soon as the measure has its
    # min_events (3) events after the change.
    events, floor = 0.0, 0
    while events < s.min_events:
        events += real.get(change + timedelta(days=floor), np.zeros(24)).sum()
        floor += 1
    noop = days_to_adapt(r4_usage, "dishwasher", "habit_shift", change, with_(s, shift_h=0))
    assert set(noop.values()) == {floor - 1}
    # A real shift costs days, for every learner.
    assert all(d is None or d > 0 for d in days_to_adapt(r4_usage, "dishwasher", "habit_shift", change, s).values())


def test_the_adaptation_command_labels_the_synthetic_experiments(shipped_db, tmp_path):
    result = run_cli("-m", "ems", "adaptation", "residential4", f"--set=paths.db={shipped_db}",
                     f"--set=paths.output_dir={tmp_path}", check=True)
    for label in ("vacation (SYNTHETIC", "habit_shift (SYNTHETIC", "replacement (SYNTHETIC", "season (real data)"):
        assert f"days to adapt: {label}" in result.stdout
    assert result.stdout.count("residential4  dishwasher") == 4
