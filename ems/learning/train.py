"""``python -m ems train``: fit, evaluate, log and register the usage models of one building."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
from sklearn.calibration import calibration_curve
from tqdm import tqdm

from ems.data.calendar import WHOLE_RECORD
from ems.data.store import Store
from ems.figures import plt, save_figure  # Agg, or a notebook's own backend
from ems.learning import registry
from ems.learning.features import (
    DAILY,
    HOURLY,
    daily_frame,
    hourly_frame,
    weather_frame,
)
from ems.learning.predictor import (
    PredictorSettings,
    dow_baseline,
    hour_baseline,
    metrics,
    model_input,
    predict_daily,
    predict_hourly,
    split_by_time,
    train_daily,
    train_hourly,
)
from ems.learning.usage import load_usage
from ems.mlflow_store import client as store_client
from ems.mlflow_store import ensure_experiment

log = logging.getLogger(__name__)


@dataclass
class DeviceReport:
    """What training one device produced (or why it was skipped)."""

    device: str
    skipped: str | None = None
    daily: dict[str, float] = field(default_factory=dict)
    daily_baseline: dict[str, float] = field(default_factory=dict)
    hourly: dict[str, float] = field(default_factory=dict)
    hourly_baseline: dict[str, float] = field(default_factory=dict)
    train_days: tuple[date, date] | None = None
    test_days: tuple[date, date] | None = None
    champion: dict[str, str] = field(default_factory=dict)  # kind -> what happened to the alias (registry)


def train_building(store: Store, building, settings: PredictorSettings, runs, tracking_uri: str, experiment: str,
                   alias: str, artifact_root: str) -> list[DeviceReport]:
    """Train every flexible device of ``building`` with enough usage; skip (and report) the rest."""
    client = store_client(tracking_uri)
    registry.mlflow.set_tracking_uri(tracking_uri)
    experiment_id = ensure_experiment(client, experiment, artifact_root)
    return [_log_device(building.id, fitted, settings, client, experiment_id, alias)
            for fitted in fit_building(store, building, settings, runs)]


@dataclass
class FittedDevice:
    """One device's models and test metrics (``report.skipped`` says why there are none)."""

    report: DeviceReport
    daily: object = None
    hourly: object = None
    split: object = None
    hourly_split: object = None
    starts: bool = False
    rows: int = 0


def fit_building(store: Store, building, settings: PredictorSettings, runs):
    """Fit and score (on the test days after all training days) the daily and hourly usage models of
    every flexible device of ``building``, yielding one :class:`FittedDevice` each (nothing is logged)."""
    usage = load_usage(store, building, *WHOLE_RECORD, runs)
    days = [d for ds in usage.learnable_days.values() for d in ds]
    if not days:
        return
    weather = weather_frame(store, min(days), max(days))
    for device in tqdm(building.usage_devices(), desc=f"training {building.id}",
                       unit="device", disable=None):  # shown on a terminal only
        frame = daily_frame(usage, device, weather, min(days), max(days)) if usage.learnable_days.get(device) else None
        starts = settings.hourly_target == "auto" and device in building.devices_of("discrete_phase")
        yield fit_device(device, frame, usage, weather, settings, starts)


def fit_device(device: str, frame, usage, weather, s: PredictorSettings, starts: bool = False) -> FittedDevice:
    """The daily (LightGBM) and hourly (CatBoost; start hours when ``starts``) models of one device and
    their test metrics beside the frequency baselines."""
    report = DeviceReport(device)
    split = split_by_time(frame, s) if frame is not None else None
    used = int(split.train["used"].sum()) if split is not None else 0
    if split is None or used < s.min_used_days:
        report.skipped = f"{used} used days in the training days (predictor.min_used_days={s.min_used_days})"
        return FittedDevice(report)
    if split.test["used"].sum() == 0 or split.test["used"].min() == 1:
        report.skipped = (f"the test days {split.test['local_date'].min()}..{split.test['local_date'].max()} are "
                          "all unused or all used: no metric could be computed")
        return FittedDevice(report)
    report.train_days = (split.train["local_date"].min(), split.train["local_date"].max())
    report.test_days = (split.test["local_date"].min(), split.test["local_date"].max())
    daily = train_daily(split, s)
    y = split.test["used"].to_numpy()
    report.daily = metrics(y, predict_daily(daily, split.test))
    report.daily_baseline = metrics(y, dow_baseline(split.train, split.test))
    hourly_split = type(split)(*(hourly_frame(part, usage, device, weather, starts)
                                 for part in (split.train, split.val, split.test)))
    hourly = train_hourly(hourly_split, s)
    yh = hourly_split.test["used"].to_numpy()
    report.hourly = metrics(yh, predict_hourly(hourly, hourly_split.test))
    report.hourly_baseline = metrics(yh, hour_baseline(hourly_split.train, hourly_split.test))
    return FittedDevice(report, daily, hourly, split, hourly_split, starts, frame.height)


def _log_device(building: str, fitted: FittedDevice, s: PredictorSettings, client, experiment_id,
                alias: str) -> DeviceReport:
    """Log a fitted device's run (params, metrics, plots) and register its models under ``alias`` rules."""
    report, daily, hourly, split, hourly_split = (fitted.report, fitted.daily, fitted.hourly, fitted.split,
                                                  fitted.hourly_split)
    if report.skipped:
        return report
    device, starts = report.device, fitted.starts
    y = split.test["used"].to_numpy()
    run = client.create_run(experiment_id, run_name=f"{building}_{device}", tags={"building": building, "device": device})
    run_id = run.info.run_id
    params = {**{f"lgbm.{k}": v for k, v in s.lgbm.items()}, **{f"catboost.{k}": v for k, v in s.catboost.items()},
              "hourly_target": "start hours" if starts else "used hours",
              "train_first": report.train_days[0], "train_last": report.train_days[1],
              "test_first": report.test_days[0], "test_last": report.test_days[1],
              "daily_rows": fitted.rows, "hourly_rows": sum(p.height for p in (hourly_split.train, hourly_split.val,
                                                                                hourly_split.test))}
    for key, value in params.items():
        client.log_param(run_id, key, str(value))
    for prefix, values in (("daily_test", report.daily), ("daily_baseline", report.daily_baseline),
                           ("hourly_test", report.hourly), ("hourly_baseline", report.hourly_baseline)):
        for key, value in values.items():
            if not np.isnan(value):
                client.log_metric(run_id, f"{prefix}_{key}", value)
    with tempfile.TemporaryDirectory() as tmp:
        _plots(Path(tmp), device, daily, hourly, split, y)
        client.log_artifacts(run_id, tmp)
    for kind, model, example, score, baseline in (
            ("daily", daily, model_input(split.train, "daily"), report.daily["roc_auc"],
             report.daily_baseline["roc_auc"]),
            ("hourly", hourly, model_input(hourly_split.train, "hourly"), report.hourly["roc_auc"],
             report.hourly_baseline["roc_auc"])):
        name = registry.model_name(building, device, kind)
        _, report.champion[kind] = registry.log_and_register(client, run_id, name, kind, model, example, score, alias,
                                                             baseline)
    client.set_terminated(run_id)
    return report


def _plots(out: Path, device: str, daily, hourly, split, y: np.ndarray) -> None:
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.barh(DAILY, daily.feature_importances_)
    a.set_title(f"{device}: LightGBM daily, split importance")
    b.barh(HOURLY, hourly.get_feature_importance())
    b.set_title(f"{device}: CatBoost hourly, importance")
    save_figure(fig, out / "feature_importance.png")
    p = predict_daily(daily, split.test)
    frac, mean = calibration_curve(y, p, n_bins=8, strategy="quantile")
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", ls="--")
    ax.plot(mean, frac, marker="o")
    ax.set_xlabel("predicted P(used)")
    ax.set_ylabel("observed share used")
    ax.set_title(f"{device}: daily model calibration (test days)")
    save_figure(fig, out / "calibration_daily.png")


def report_table(building: str, reports: list[DeviceReport]) -> str:
    """Per-device test metrics against the frequency baselines."""
    lines = [f"{building}: usage models (test days after all training days)",
             f"{'device':<17}{'model':<8}{'ROC AUC':>14}{'PR AUC':>14}{'F1':>14}{'Brier':>14}{'log loss':>14}"]
    for r in reports:
        if r.skipped:
            lines.append(f"{r.device:<17}skipped: {r.skipped}")
            continue
        for kind, model, base in (("daily", r.daily, r.daily_baseline), ("hourly", r.hourly, r.hourly_baseline)):
            cells = "".join(f"{model[k]:>7.3f}/{base[k]:<6.3f}" for k in ("roc_auc", "pr_auc", "f1", "brier", "log_loss"))
            alias = "champion" if r.champion.get(kind) == registry.MOVED else \
                "loses to baseline" if r.champion.get(kind) == registry.LOSES_TO_BASELINE else "not better"
            lines.append(f"{r.device:<17}{kind:<8}{cells}  {alias}")
    lines.append("(model/baseline; baselines: day-of-week frequency, hour x day-type frequency; last column: the "
                 "alias moved to the model, or why not)")
    return "\n".join(lines)
