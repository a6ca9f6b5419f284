"""The two-stage usage predictor: no leakage, time split, registry round trip, prior=ml end to end."""

from __future__ import annotations

import json
from datetime import date

import mlflow
import numpy as np
import polars as pl
import pytest

from ems.config import instantiate, load_config
from ems.data.store import Store
from ems.learning import registry
from ems.learning.features import DAILY, daily_frame, weather_frame
from ems.learning.predictor import PredictorSettings, split_by_time
from ems.learning.runs import RunSettings
from ems.learning.usage import Usage, load_usage

from conftest import ROOT, run_cli

FIRST, LAST = date(2015, 10, 1), date(2018, 2, 28)


@pytest.fixture(scope="module")
def usage(shipped_db):
    building = instantiate(load_config(["building=residential4"]).building)
    with Store(shipped_db) as store:
        return load_usage(store, building, FIRST, LAST, RunSettings()), weather_frame(store, FIRST, LAST)


def test_features_use_only_days_before_the_day(usage):
    """Erase every event from day d on: the features of d must not change (only its label may)."""
    found, weather = usage
    full = daily_frame(found, "dishwasher", weather, FIRST, LAST)
    cut_day = date(2016, 6, 15)
    truncated = Usage(found.events.filter(pl.col("local_date") < cut_day),
                      found.used.filter(pl.col("local_date") < cut_day), found.learnable_days)
    cut = daily_frame(truncated, "dishwasher", weather, FIRST, LAST)
    row = lambda f: f.filter(pl.col("local_date") == cut_day).select(DAILY).row(0)  # noqa: E731
    assert row(full) == row(cut)
    # ... while the day's own label, and the next day's lags, do see day d.
    assert full.filter(pl.col("local_date") == cut_day)["used"][0] in (0, 1)
    later = full.filter(pl.col("local_date") > cut_day)
    assert later.height > 0


def test_split_puts_every_test_day_after_every_training_day(usage):
    found, weather = usage
    split = split_by_time(daily_frame(found, "washing_machine", weather, FIRST, LAST), PredictorSettings())
    assert split.train["local_date"].max() < split.val["local_date"].min()
    assert split.val["local_date"].max() < split.test["local_date"].min()
    total = split.train.height + split.val.height + split.test.height
    assert split.train.height == int(total * 0.6)


def test_train_registers_models_and_prior_ml_runs_two_days(shipped_db, tmp_path):
    common = [f"paths.output_dir={tmp_path}", f"paths.db={shipped_db}", "building=residential4"]
    trained = run_cli("-m", "ems", "train", *common, check=True)
    assert "residential4: usage models (test days after all training days)" in trained.stdout
    assert "heat_pump        skipped: the test days" in trained.stdout
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("usage_models").experiment_id])
    dishwasher = next(r for r in runs if r.data.tags["device"] == "dishwasher")
    # Test AUC is computed on days after all training days.
    assert dishwasher.data.params["train_last"] < dishwasher.data.params["test_first"]
    assert 0.5 < dishwasher.data.metrics["daily_test_roc_auc"] <= 1.0
    assert {"feature_importance.png", "calibration_daily.png"} <= {
        a.path for a in client.list_artifacts(dishwasher.info.run_id)}
    # The champion loads by alias and predicts what the run measured.
    mlflow.set_tracking_uri(uri)
    version = client.get_model_version_by_alias("residential4_dishwasher_daily", "champion")
    model = registry.load("residential4_dishwasher_daily", "daily", "champion")
    assert version.run_id == dishwasher.info.run_id
    assert float(version.tags["test_roc_auc"]) == pytest.approx(dishwasher.data.metrics["daily_test_roc_auc"])
    assert model.predict_proba(pl.DataFrame({c: [0.0] for c in DAILY}).to_pandas()).shape == (1, 2)
    # The alias moves only to a model that beats its frequency baseline on the test days; one that loses
    # is registered (both scores tagged) but not aliased, and the table says so.
    for model_name in ("residential4_dishwasher_daily", "residential4_dishwasher_hourly", "residential4_ev_daily",
                       "residential4_ev_hourly", "residential4_washing_machine_hourly"):
        first = client.get_model_version(model_name, "1")
        beats = float(first.tags["test_roc_auc"]) > float(first.tags["baseline_roc_auc"])
        aliased = "champion" in client.get_registered_model(model_name).aliases
        assert aliased == beats, model_name
    assert "loses to baseline" in trained.stdout
    assert "alias champion kept: the model does not beat its frequency baseline" in trained.stdout
    # Training again with the same data does not beat the champion: the alias stays on version 1.
    again = run_cli("-m", "ems", "train", *common, check=True)
    assert "alias champion kept: the model does not beat the current champion" in again.stdout
    assert (tmp_path / "mlartifacts" / "usage_models").is_dir() and not (ROOT / "mlruns").exists()
    assert str(client.get_model_version_by_alias("residential4_dishwasher_daily", "champion").version) == "1"
    # prior=ml: the phases mode takes day-specific PMFs from the registered models.
    run = run_cli("run.py", "prior=ml", "mode=phases", "period.start=2017-01-10", "period.n_days=2", *common,
                  check=True)
    totals = json.loads((sorted((tmp_path / "runs" / "default").iterdir())[-1] / "summary.json").read_text())["totals"]
    assert totals["days"] == 2
    prior = instantiate(load_config(["prior=ml", *common]).prior)
    pmf = prior.pmf("dishwasher", date(2017, 1, 10))
    assert pmf.shape == (24,) and pmf.sum() == pytest.approx(1.0) and pmf.std() > 0
    assert not np.allclose(pmf, prior.pmf("dishwasher", date(2017, 1, 14)))  # a Saturday differs
    assert 0 < prior.p_used("dishwasher", date(2017, 1, 10)) < 1
    assert "preference satisfaction" in run.stdout
