"""Two-stage usage predictor: LightGBM P(used on day d), CatBoost P(usage in hour h | used on d).

Split by time per device: the first ``train_share`` of its learnable days
train, the next ``val_share`` validate (early stopping), the rest test; the
test days come after every training day. Metrics on the test days: ROC AUC,
PR AUC, F1 (at 0.5), Brier score, log loss, each beside a frequency baseline
(day-of-week frequency for the daily model, hour x day-type frequency for
the hourly model) estimated on the training days.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import polars as pl
from catboost import CatBoostClassifier
from sklearn.metrics import average_precision_score, brier_score_loss, f1_score, log_loss, roc_auc_score

from ems.learning.features import CATEGORICAL, DAILY, HOURLY


@dataclass
class PredictorSettings:
    """Model and split settings (``conf/predictor``)."""

    lgbm: dict = field(default_factory=lambda: {"num_leaves": 31, "learning_rate": 0.05, "colsample_bytree": 0.8,
                                                "n_estimators": 300})
    catboost: dict = field(default_factory=lambda: {"iterations": 500, "learning_rate": 0.05, "depth": 6})
    early_stopping: int = 50
    train_share: float = 0.6
    val_share: float = 0.2
    min_used_days: int = 30
    seed: int = 0
    threads: int = 2
    hourly_target: str = "auto"

    def __post_init__(self) -> None:
        if self.hourly_target not in ("auto", "used"):
            raise ValueError(f"predictor.hourly_target={self.hourly_target!r}: must be auto (start hours of "
                             f"discrete-phase devices, used hours of the others) or used (used hours for all)")


@dataclass
class Split:
    train: pl.DataFrame
    val: pl.DataFrame
    test: pl.DataFrame


def split_by_time(frame: pl.DataFrame, s: PredictorSettings) -> Split:
    """Chronological split by local day (all rows of a day stay together)."""
    days = frame["local_date"].unique().sort()
    a, b = int(len(days) * s.train_share), int(len(days) * (s.train_share + s.val_share))
    part = lambda lo, hi: frame.filter(pl.col("local_date").is_in(days[lo:hi].implode()))  # noqa: E731
    return Split(part(0, a), part(a, b), part(b, len(days)))


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """ROC AUC, PR AUC, F1 at 0.5, Brier score and log loss (NaN where undefined)."""
    y, p = np.asarray(y, int), np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    both = len(set(y.tolist())) == 2
    return {
        "roc_auc": float(roc_auc_score(y, p)) if both else math.nan,
        "pr_auc": float(average_precision_score(y, p)) if both else math.nan,
        "f1": float(f1_score(y, p >= 0.5, zero_division=0)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
    }


def train_daily(split: Split, s: PredictorSettings) -> lgb.LGBMClassifier:
    model = lgb.LGBMClassifier(**s.lgbm, random_state=s.seed, n_jobs=s.threads, verbose=-1)
    val_x, val_y = _x(split.val, DAILY), split.val["used"].to_numpy()
    # LightGBM 4.7 renamed eval_set to eval_X / eval_y; older 4.x only knows eval_set.
    evaluation = ({"eval_X": val_x, "eval_y": val_y} if "eval_X" in inspect.signature(model.fit).parameters
                  else {"eval_set": [(val_x, val_y)]})
    model.fit(_x(split.train, DAILY), split.train["used"].to_numpy(), **evaluation,
              callbacks=[lgb.early_stopping(s.early_stopping, verbose=False)])
    return model


def train_hourly(split: Split, s: PredictorSettings) -> CatBoostClassifier:
    model = CatBoostClassifier(**s.catboost, od_type="Iter", od_wait=s.early_stopping, random_seed=s.seed,
                               thread_count=s.threads, verbose=False, allow_writing_files=False,
                               cat_features=CATEGORICAL)
    val = (_x(split.val, HOURLY), split.val["used"].to_numpy())
    model.fit(_x(split.train, HOURLY), split.train["used"].to_numpy(), eval_set=val if split.val.height else None)
    return model


def predict_hourly(model: CatBoostClassifier, frame: pl.DataFrame) -> np.ndarray:
    return model.predict_proba(_x(frame, HOURLY))[:, 1]


def predict_daily(model: lgb.LGBMClassifier, frame: pl.DataFrame) -> np.ndarray:
    return model.predict_proba(_x(frame, DAILY))[:, 1]


def model_input(frame: pl.DataFrame, kind: str):
    """The pandas frame a ``daily`` or ``hourly`` model takes."""
    return _x(frame, DAILY if kind == "daily" else HOURLY)


def dow_baseline(train: pl.DataFrame, test: pl.DataFrame) -> np.ndarray:
    """P(used) by day of week on the training days (Laplace-smoothed)."""
    freq = train.group_by("dow").agg(p=(pl.col("used").sum() + 1) / (pl.len() + 2))
    return test.join(freq, on="dow", how="left")["p"].fill_null(0.5).to_numpy()


def hour_baseline(train: pl.DataFrame, test: pl.DataFrame) -> np.ndarray:
    """P(usage in hour h | used) by hour and day type on the training days (Laplace-smoothed)."""
    freq = train.group_by("hour", "weekend").agg(p=(pl.col("used").sum() + 1) / (pl.len() + 2))
    return test.join(freq, on=["hour", "weekend"], how="left")["p"].fill_null(1 / 24).to_numpy()


def _x(frame: pl.DataFrame, columns: list[str]):
    """Model input: categorical columns as int, the rest as float64 (a signature that admits missing values)."""
    return frame.select([pl.col(c).cast(pl.Int64 if c in CATEGORICAL else pl.Float64) for c in columns]).to_pandas()
