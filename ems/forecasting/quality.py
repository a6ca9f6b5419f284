"""Forecast quality: pure functions of arrays (kW per hour).

``skill`` is the share of a reference's error a forecast removes
(1 - error / reference error; 0 = as good as the reference, 1 = perfect,
negative = worse); NaN when the reference makes no error.
"""

from __future__ import annotations

import math

import numpy as np


def mae(actual, predicted) -> float:
    """Mean absolute error (kW)."""
    a, p = np.asarray(actual, float), np.asarray(predicted, float)
    return float(np.mean(np.abs(a - p))) if a.size else math.nan


def rmse(actual, predicted) -> float:
    """Root mean square error (kW)."""
    a, p = np.asarray(actual, float), np.asarray(predicted, float)
    return float(np.sqrt(np.mean((a - p) ** 2))) if a.size else math.nan


def pinball(actual, predicted, q: float) -> float:
    """Mean pinball (quantile) loss of the ``q`` quantile forecast (kW)."""
    a, p = np.asarray(actual, float), np.asarray(predicted, float)
    if not a.size:
        return math.nan
    d = a - p
    return float(np.mean(np.maximum(q * d, (q - 1) * d)))


def skill(error: float, reference_error: float) -> float:
    """1 - error / reference_error (NaN when the reference's error is 0 or undefined)."""
    if not reference_error or math.isnan(reference_error):
        return math.nan
    return 1.0 - error / reference_error


def quality(actual, point, reference, quantiles: dict[float, np.ndarray] | None = None) -> dict[str, float]:
    """MAE, RMSE, their skill against ``reference`` (e.g. the naive forecast), and the pinball loss
    of each quantile forecast (``pinball_p10`` ...), of one series."""
    out = {"mae_kw": mae(actual, point), "rmse_kw": rmse(actual, point),
           "reference_mae_kw": mae(actual, reference), "reference_rmse_kw": rmse(actual, reference)}
    out["mae_skill"] = skill(out["mae_kw"], out["reference_mae_kw"])
    out["rmse_skill"] = skill(out["rmse_kw"], out["reference_rmse_kw"])
    for q, values in (quantiles or {}).items():
        out[f"pinball_p{round(q * 100):02d}_kw"] = pinball(actual, values, q)
    return out
