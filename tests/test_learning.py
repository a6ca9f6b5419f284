"""Usage events, the PMF update rule, persistence, held-out evaluation and Pipeline B."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from ems.config import instantiate, load_config
from ems.data.store import Store
from ems.learning import state
from ems.learning.daily import DailyLearner
from ems.learning.pmf import (LearningSettings, ProbabilityModelAgent, entropy, js_divergence, learning_rate,
                              update_pmf)
from ems.learning.priors import HouseholdPrior, LearnedPrior, UniformPrior
from ems.learning.runs import RunSettings, events, thresholds
from ems.learning.usage import start_histogram, usage_histogram

from conftest import run_cli


def test_divergence_and_entropy_by_hand():
    uniform = np.full(24, 1 / 24)
    assert js_divergence(uniform, uniform) == 0.0
    a, b = np.r_[np.ones(12) / 12, np.zeros(12)], np.r_[np.zeros(12), np.ones(12) / 12]
    assert js_divergence(a, b) == pytest.approx(math.log(2))
    assert entropy(uniform) == pytest.approx(math.log(24))


def test_top3_credit_is_fair_under_ties():
    from ems.learning.evaluate import top_k_credit

    assert top_k_credit(np.full(24, 1 / 24), 5, 3) == pytest.approx(3 / 24)
    p = np.r_[[0.5, 0.2], np.full(22, 0.3 / 22)]
    assert top_k_credit(p, 0, 3) == 1.0 and top_k_credit(p, 1, 3) == 1.0
    assert top_k_credit(p, 7, 3) == pytest.approx(1 / 22)


def test_update_rule_by_hand():
    s = LearningSettings()
    assert learning_rate(0, 0.0, s) == pytest.approx(1 / 20)            # boost 1: 1 / (0 + 20)
    assert learning_rate(0, 0.005, s) == pytest.approx(1 / 20)          # below the JS threshold: no boost
    assert learning_rate(0, 0.02, s) == pytest.approx(0.075)            # (1 + min(0.02 * 50, 0.5)) / 20
    assert learning_rate(0, 0.02, LearningSettings(lr_tau=10)) == 0.10   # 1.5 / 10 clipped to lr_max
    assert learning_rate(10, 0.004 + 0.01, s) == pytest.approx((1 + 0.5) / 30)
    assert learning_rate(10_000, 0.0, s) == s.lr_min
    p = np.full(24, 1 / 24)
    used = np.zeros(24)
    used[[19, 20]] = 1
    new, delta = update_pmf(p, used, lr=0.05, cap=0.04)
    # Used hours: +min(0.05 * (1 - 1/24), 0.04) = +0.04; others: -0.05/24; then renormalised.
    raw = p + np.where(used > 0, 0.04, -0.05 / 24)
    assert new == pytest.approx(raw / raw.sum())
    assert delta == pytest.approx(new - p)
    same, _ = update_pmf(p, np.zeros(24), lr=0.05, cap=0.04)   # a day without usage keeps the shape
    assert same == pytest.approx(p)


def test_agent_counts_days_archives_updates_and_round_trips(tmp_path):
    agent = ProbabilityModelAgent(UniformPrior())
    used = np.zeros(24)
    used[20] = 1
    first = agent.observe("dishwasher", date(2016, 6, 6), used)  # a Monday
    assert first.n == 1 and first.day_type == "weekday" and first.lr == pytest.approx(0.05)
    assert first.js_prior == pytest.approx(first.js_step) and first.top_shift == 1
    assert agent.observe("dishwasher", date(2016, 6, 6), used) is None  # the same day is not learned twice
    agent.observe("dishwasher", date(2016, 6, 7), np.zeros(24))         # no usage: counted, shape kept
    assert agent.counts["dishwasher", "weekday"] == 2
    assert agent.pmf_of("dishwasher", "weekday") == pytest.approx(np.asarray(first.after))
    assert agent.pmf_of("dishwasher", "weekend") == pytest.approx(np.full(24, 1 / 24))
    path = tmp_path / "state.duckdb"
    state.save(agent, path)
    again = ProbabilityModelAgent(UniformPrior())
    assert state.load(again, path)
    assert again.pmf_of("dishwasher", "weekday") == pytest.approx(agent.pmf_of("dishwasher", "weekday"))
    assert again.counts == agent.counts and len(again.history) == 2
    assert again.observe("dishwasher", date(2016, 6, 7), used) is None
    assert agent.summary() == [f"dishwasher: 2 updates, final JS(prior)={agent.history[-1].js_prior:.4f}, "
                               f"final JS(step)={agent.history[-1].js_step:.4f}"]


def test_run_threshold_is_the_energy_weighted_median_rule(shipped_db):
    with Store(shipped_db) as store:
        readings = store.query("SELECT device, utc_hour, energy_kwh, learnable FROM readings "
                               "WHERE building = 'residential4' AND device = 'dishwasher'")
    values = np.sort(readings.filter(pl.col("learnable"), pl.col("energy_kwh") > 0)["energy_kwh"].to_numpy())
    weighted_median = values[np.searchsorted(np.cumsum(values) / values.sum(), 0.5)]
    assert thresholds(readings, RunSettings(0.02, 0.2))["dishwasher"] == pytest.approx(0.2 * weighted_median)
    found, used = events(readings, RunSettings(0.02, 0.2), "Europe/Berlin")
    assert found.height > 100 and (found["energy_kwh"] > 0.2 * weighted_median).all()
    # Every accepted run lies in learnable hours with learnable neighbours.
    bad = readings.filter(~pl.col("learnable"))["utc_hour"].to_list()
    for start, hours in zip(found["start_utc"].to_list(), found["hours"].to_list()):
        span = {start + timedelta(hours=h) for h in range(-1, hours + 1)}
        assert not span & set(bad)
    assert used.height == found["hours"].sum() - (found.height - found.select("device", "start_utc").unique().height)


def test_learned_prior_reads_only_days_before_the_period(shipped_db):
    cfg = load_config(["prior=learned", "period.start=2016-09-01", f"paths.db={shipped_db}"])
    prior = instantiate(cfg.prior)
    assert isinstance(prior, LearnedPrior)
    for frame in (prior._usage.events, prior._usage.used):
        assert frame["local_date"].max() < date(2016, 9, 1)
        assert frame["local_date"].min() >= date(2016, 9, 1) - timedelta(days=60)
    # What is learned is what is scheduled: start hours of a cycle, usage hours of an energy window.
    assert prior.pmf_of("dishwasher", "weekday") == pytest.approx(
        start_histogram(prior._usage.events, "dishwasher", "weekday", 1.0))
    assert prior.pmf_of("heat_pump", "weekday") == pytest.approx(
        usage_histogram(prior._usage.used, "heat_pump", "weekday", 1.0))
    # A period from the building's first day has nothing before it: uniform, which excludes no hour.
    whole = instantiate(load_config(["prior=learned", "experiment=full_period", f"paths.db={shipped_db}"]).prior)
    assert whole.pmf_of("dishwasher", "weekday") == pytest.approx(np.full(24, 1 / 24))


BUILDINGS = {f"residential{i}": d for i, d in [(1, "2015-08-01"), (2, "2015-07-01"), (3, "2015-03-01"),
                                                (4, "2016-01-01"), (5, "2016-01-01"), (6, "2016-01-01")]}


@pytest.mark.parametrize("building, start", BUILDINGS.items())
def test_after_60_days_the_learned_pmf_beats_uniform_on_held_out_days(shipped_db, building, start):
    """Learn 60 days from the uniform prior, then score the next 60 days (each before it is learned)."""
    b = instantiate(load_config([f"building={building}"]).building)
    learner = DailyLearner(UniformPrior(), train_days=60)
    first = date.fromisoformat(start)
    with Store(shipped_db) as store:
        learner.prepare(store, b, first, first + timedelta(days=59))
    for offset in range(60):
        learner.after_day(first + timedelta(days=offset))
    table = learner.heldout.table()
    for device in ("dishwasher", "washing_machine"):
        row = table[device]
        assert row["events"] >= 10, (device, row)
        assert row["nll_uniform"] == pytest.approx(math.log(24))
        assert row["nll_learned"] < row["nll_uniform"], (building, device, row)
    assert learner.heldout.learning_score() > 0


def test_pipeline_b_runs_end_to_end_and_resumes(shipped_db, tmp_path):
    state_file = tmp_path / "learning" / "residential4.duckdb"
    common = ["run.py", "experiment=learning", "learner.train_days=20", "period.n_days=5",
              f"paths.output_dir={tmp_path}", f"paths.db={shipped_db}", f"learner.state_path={state_file}"]
    first = run_cli(*common, check=True)
    assert "dishwasher: 25 updates, final JS(prior)=" in first.stdout
    assert "learning score (nats/event)" in first.stdout
    run_dir = sorted((tmp_path / "runs" / "learning").iterdir())[-1]
    totals = json.loads((run_dir / "summary.json").read_text())["totals"]
    assert totals["days"] == 5 and totals["learning_score"] == pytest.approx(float(
        next(line for line in first.stdout.splitlines() if line.startswith("learning score")).split()[-1]), abs=5e-4)
    assert {"dishwasher/nll_learned", "dishwasher/nll_uniform", "dishwasher/top3_static"} <= set(totals)
    assert {"learning_curves.png", "pmf_heatmap_dishwasher.png", "pmf_updates.parquet"} <= {p.name for p in run_dir.iterdir()}
    updates = pl.read_parquet(run_dir / "pmf_updates.parquet")
    assert set(updates.columns) >= {"device", "day_type", "day", "before", "after", "delta", "js_step", "js_prior",
                                    "entropy", "top_shift", "at_utc"}
    assert state_file.is_file()
    again = run_cli(*common, "learner.resume=true", check=True)  # every day already learned: nothing new
    assert "dishwasher: 25 updates" in again.stdout


def test_household_prior_is_a_valid_starting_point_for_the_agent():
    agent = ProbabilityModelAgent(HouseholdPrior(windows={"ev": [[22, 6]]}))
    before = agent.pmf_of("ev", "weekday")
    used = np.zeros(24)
    used[1] = 1
    record = agent.observe("ev", date(2016, 6, 6), used)
    assert record.after[1] > before[1] and sum(record.after) == pytest.approx(1.0)
