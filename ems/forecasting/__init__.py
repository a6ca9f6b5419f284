"""Day-ahead forecasters of a household's hourly load and PV: a Python API usable on any series.

    from ems.forecasting import LoadForecaster, PVForecaster, NaiveForecaster, quality

    model = LoadForecaster(quantiles=(0.1, 0.5, 0.9)).fit(history)      # utc_hour, value (+ weather columns)
    fc = model.predict(at, horizon_h=24, weather=weather)              # hours [at, at + 24 h)
    fc.utc_hour, fc.point, fc.quantiles[0.9]                           # kW per hour

Series are hourly frames with a naive ``utc_hour`` (UTC, start of the hour) and
``value`` (kW = kWh per hour); weather frames have ``utc_hour`` and any of
``temperature_c``, ``direct_wm2``, ``diffuse_wm2``. A forecaster refuses to
use anything at or after the forecast time ``at``: it must be fitted on
history before ``at``, and its lag features come from the full local days
before ``at``'s day. The weather of the forecast hours is an input, standing in
for a weather forecast (in ems: the observed weather of those hours, whose
error is smaller than a real forecast's; every result that uses it says so).
"""

from ems.forecasting.base import Forecast, FutureDataError
from ems.forecasting.models import LoadForecaster, NaiveForecaster, PVForecaster
from ems.forecasting.quality import mae, pinball, quality, rmse, skill

__all__ = ["Forecast", "FutureDataError", "LoadForecaster", "NaiveForecaster", "PVForecaster", "mae", "pinball",
           "quality", "rmse", "skill"]
