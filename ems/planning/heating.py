"""The heat pump as a thermal load: a building heat model fitted from the building's own meters and the
outdoor temperature, the day's :class:`~ems.optim.kinds.thermal.ThermalDevice`, and the comfort KPIs.

What is fitted (per building and heat-pump meter, on the heating days before the replayed period)::

    E_d = 24 * H_el * (T_balance - T_d) / r(T_d),    r(T) = COP(T) / COP_ref = 1 + s * (T - T_ref)

``E_d`` is the day's metered heat-pump energy (kWh), ``T_d`` the day's mean
outdoor temperature (deg C); ``H_el`` (kW per K at the reference COP), the
balance temperature and the COP slope ``s`` (1/K) are least-squares
estimates. The heat-loss coefficient in heat units is ``H = H_el * COP_ref``.

Assumptions and limits (said in every output that uses them):

* CoSSMic has no indoor temperature. The comfort path is the metered
  operation: the heat the meter delivered (``E[t] * COP(T[t])``) kept the house
  comfortable, and a plan may deviate from that path's indoor temperature by
  the band (``band_k``, K), through a 1R1C building whose time constant
  ``C / H`` (``time_constant_h``) is a knob, not a fit (daily energies cannot
  identify it).
* Only the COP's slope is fitted; its level ``COP_ref`` at ``T_ref`` is a
  knob that scales heat but leaves every electric schedule unchanged.
* The outdoor temperature is the OPSD German population-weighted mean, not Konstanz's.
* Domestic hot water shares the meter and is modelled as space heat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy.optimize import least_squares

from ems.building import Building
from ems.data.store import Store
from ems.messages import one_line
from ems.learning.features import weather_frame
from ems.optim.kinds.thermal import TOL_K, ThermalDevice, deviation_k
from ems.planning.needs import DayNeeds

log = logging.getLogger(__name__)
#: Bound of the unconstrained COP slope fit (1/K): wide enough never to bind on real data.
UNBOUNDED_SLOPE = 0.5


class HeatingSettings(BaseModel):
    """See ``conf/heating/thermal.yaml`` (every key is documented there)."""

    model_config = ConfigDict(extra="forbid")

    devices: list[str] = Field(min_length=1)
    schedule: Literal["thermal", "quota"] = "thermal"
    time_constant_h: float = Field(gt=0)
    band_k: float = Field(gt=0)
    cop_ref: float = Field(gt=0)
    reference_temp_c: float
    cop_min: float = Field(gt=0)
    heating_below_c: float
    min_fit_days: int = Field(ge=3)
    cop_slope_max: float = Field(ge=0)
    fit_days: int | None = Field(default=None, ge=1)


@dataclass(frozen=True)
class HeatPumpFit:
    """The fitted model of one heat-pump meter (see the module docstring); ``rmse_kwh`` / ``r2`` of the daily fit."""

    device: str
    loss_kw_per_k_el: float
    balance_temp_c: float
    cop_slope_per_k: float
    n_days: int
    first: str
    last: str
    rmse_kwh: float
    r2: float
    #: The slope the data give without the physical bound s >= 0, and its standard error (1/K).
    cop_slope_free_per_k: float = float("nan")
    cop_slope_free_se: float = float("nan")

    def describe(self) -> str:
        bound = " (at its bound 0)" if self.cop_slope_per_k <= 1e-9 else ""
        return (f"{self.device}: H_el={self.loss_kw_per_k_el:.4f} kW/K at COP_ref, balance {self.balance_temp_c:.1f} "
                f"deg C, COP slope {100 * self.cop_slope_per_k:.2f} %/K{bound}, unconstrained "
                f"{100 * self.cop_slope_free_per_k:.2f} +- {100 * self.cop_slope_free_se:.2f} %/K; daily fit on "
                f"{self.n_days} heating days {self.first}..{self.last}: RMSE {self.rmse_kwh:.2f} kWh, R2 {self.r2:.2f}")


def fit_heat_pump(device: str, days: list[str], daily_kwh: np.ndarray, daily_temp_c: np.ndarray,
                  settings: HeatingSettings) -> HeatPumpFit:
    """Least-squares fit of the daily model on the days colder than ``heating_below_c``; a ValueError naming
    the device when too few heating days are there."""
    e, temp = np.asarray(daily_kwh, float), np.asarray(daily_temp_c, float)
    keep = (temp < settings.heating_below_c) & np.isfinite(e) & np.isfinite(temp)
    if keep.sum() < settings.min_fit_days:
        raise ValueError(f"heating: {device}: {int(keep.sum())} heating days (mean temperature below "
                         f"heating.heating_below_c={settings.heating_below_c:g} deg C) before the period to fit on, "
                         f"fewer than heating.min_fit_days={settings.min_fit_days}; start the period later")
    e, temp = e[keep], temp[keep]
    t_ref = settings.reference_temp_c

    def predicted(x: np.ndarray) -> np.ndarray:
        h, balance, slope = x
        return 24.0 * h * (balance - temp) / np.maximum(1.0 + slope * (temp - t_ref), 1e-3)

    slope0, intercept0 = np.polyfit(temp, e, 1)  # E = 24 H (Tb - T) at s = 0: the start
    h0 = max(-slope0 / 24.0, 1e-4)
    start = np.array([h0, min(max(intercept0 / (24.0 * h0), settings.heating_below_c), 40.0), 0.0])
    low, high = [1e-6, settings.heating_below_c, -UNBOUNDED_SLOPE], [1e3, 40.0, UNBOUNDED_SLOPE]
    free = least_squares(lambda x: predicted(x) - e, start, bounds=(low, high))  # what the data alone say
    spread = np.linalg.pinv(free.jac.T @ free.jac) * float((free.fun ** 2).sum()) / max(len(e) - 3, 1)
    fit = least_squares(lambda x: predicted(x) - e, start,
                        bounds=(low[:2] + [0.0], high[:2] + [settings.cop_slope_max + 1e-12]))  # physical: s >= 0
    residual = predicted(fit.x) - e
    total = float(((e - e.mean()) ** 2).sum())
    chosen = [d for d, k in zip(days, keep) if k]
    return HeatPumpFit(device, float(fit.x[0]), float(fit.x[1]), float(fit.x[2]), int(len(e)), chosen[0], chosen[-1],
                       float(np.sqrt(np.mean(residual ** 2))), 1.0 - float((residual ** 2).sum()) / total
                       if total > 0 else float("nan"), float(free.x[2]), float(np.sqrt(max(spread[2, 2], 0.0))))


@dataclass
class Heating:
    """The ``heating`` config group: the settings, then (after :meth:`prepare`) the fitted heat pumps of the
    building and the outdoor temperature (deg C) of the replayed hours by UTC hour."""

    settings: HeatingSettings | dict
    fits: dict[str, HeatPumpFit] = field(default_factory=dict)
    temperature_c: dict = field(default_factory=dict, repr=False)
    #: Region of the store's weather table (as ``ems.agents.weather.WeatherAgent``).
    region: str = "DE"

    def __post_init__(self) -> None:
        if isinstance(self.settings, dict):
            try:
                self.settings = HeatingSettings.model_validate(self.settings)
            except ValidationError as exc:
                raise ValueError("heating.settings." + one_line(exc.errors(include_url=False)[0])) from None

    def prepare(self, store: Store, building: Building, start: date, last: date) -> "Heating":
        """Fit every heat-pump meter on the valid whole days before ``start`` (the last ``fit_days`` of
        them, if set) and load the temperature of [``start``, ``last``] (+ 1 day for a longer horizon)."""
        s = self.settings
        for device in s.devices:
            if building.devices.get(device) != "partial_usage":
                raise ValueError(f"heating.devices: {device!r} is not a partial_usage device of {building.id} "
                                 f"(its devices: {', '.join(building.flexible())})")
            daily = store.query(
                "WITH e AS (SELECT local_date, sum(energy_kwh) AS kwh, count(*) AS n, bool_and(valid) AS ok "
                "FROM readings WHERE building = ? AND device = ? AND local_date < ? GROUP BY local_date), "
                "w AS (SELECT local_date, avg(temperature_c) AS temp, count(*) AS hours FROM weather "
                "WHERE region = ? GROUP BY local_date) "
                "SELECT local_date, kwh, temp FROM e JOIN w USING (local_date) "
                "WHERE ok AND n = hours AND n >= 23 ORDER BY local_date", [building.id, device, start, self.region])
            if s.fit_days is not None:
                daily = daily.tail(s.fit_days)
            self.fits[device] = fit_heat_pump(device, [str(d) for d in daily["local_date"].to_list()],
                                              daily["kwh"].to_numpy(), daily["temp"].to_numpy(), s)
        hours = weather_frame(store, start, last + timedelta(days=1), self.region)
        self.temperature_c = dict(zip(hours["utc_hour"].to_list(), hours["temperature_c"].to_list()))
        for line in describe(self):
            log.info("%s", line)
        return self

    def apply(self, needs: DayNeeds, utc_hours: list) -> DayNeeds:
        """``needs`` with each fitted heat pump's daily quota replaced by its thermal device (plans_thermal only)."""
        if not self.plans_thermal:
            return needs
        temperature = self.day_temperature(utc_hours)
        devices = []
        for d in needs.devices:
            device = needs.device_of.get(d.name)
            if device in self.fits:
                d = self.device(d.name, device, needs.baseline_kw[d.name], temperature, d.max_kw)
            devices.append(d)
        return replace(needs, devices=devices)

    def day_temperature(self, utc_hours: list) -> np.ndarray:
        """The outdoor temperature (deg C) of each hour; a ValueError naming the hour the store lacks."""
        missing = [h for h in utc_hours if self.temperature_c.get(h) is None]
        if missing:
            raise ValueError(f"heating: no outdoor temperature for {missing[0]} UTC in the store's weather table "
                             f"(ingest data/opsd_weather_de_60min_2014_2019.csv.gz)")
        return np.asarray([self.temperature_c[h] for h in utc_hours], float)

    @property
    def plans_thermal(self) -> bool:
        return self.settings.schedule == "thermal"

    def cop(self, device: str, temperature_c: np.ndarray) -> np.ndarray:
        """COP per step at the outdoor temperature (never below ``cop_min``)."""
        s = self.settings
        r = 1.0 + self.fits[device].cop_slope_per_k * (np.asarray(temperature_c, float) - s.reference_temp_c)
        return np.maximum(s.cop_ref * r, s.cop_min)

    def device(self, name: str, device: str, metered_kwh: np.ndarray, temperature_c: np.ndarray,
               max_kw: float) -> ThermalDevice:
        """The day's thermal device (1-h steps): the metered operation (kWh per hour) as the comfort path, the
        band around it."""
        if device not in self.fits:
            raise ValueError(f"heating: {device} has no fitted model (call Heating.prepare first)")
        s, fit = self.settings, self.fits[device]
        cop = self.cop(device, temperature_c)
        loss = fit.loss_kw_per_k_el * s.cop_ref
        return ThermalDevice(name=name, heat_kwh=(np.asarray(metered_kwh, float) * cop).tolist(), cop=cop.tolist(),
                             max_kw=float(max_kw), loss_kw_per_k=loss, capacity_kwh_per_k=loss * s.time_constant_h,
                             deviation_min_k=-s.band_k, deviation_max_k=s.band_k)

    def comfort(self, device: ThermalDevice, power_kw: np.ndarray, step_hours: float = 1.0) -> dict[str, float]:
        """Comfort KPIs of a schedule: K-hours outside the band, the coldest and warmest deviation (K), the
        deviation summed over the steps (K h; its mean per hour says whether the plan runs the house cooler or
        warmer than the metered path), the day's end deviation (K) and the electricity (kWh)."""
        dev = deviation_k(device, power_kw, step_hours)
        below = np.maximum(device.deviation_min_k - dev[1:], 0.0)
        above = np.maximum(dev[1:] - device.deviation_max_k, 0.0)
        return {"comfort_violation_kh": float((below + above).sum() * step_hours),
                "comfort_hours_outside": float(((below > TOL_K) | (above > TOL_K)).sum() * step_hours),
                "deviation_min_k": float(dev.min()), "deviation_max_k": float(dev.max()),
                "deviation_mean_kh": float(dev[1:].sum() * step_hours),
                "deviation_end_k": float(dev[-1]), "heat_pump_kwh": float(np.sum(power_kw) * step_hours)}


def describe(heating: Heating) -> list[str]:
    """What the run assumed, for the log and the report: the fits and the stated assumptions."""
    s = heating.settings
    return [fit.describe() for fit in heating.fits.values()] + [
        f"heating={s.schedule}: comfort path = the metered heat-pump operation (no indoor temperature in CoSSMic); "
        f"band +-{s.band_k:g} K, time constant {s.time_constant_h:g} h (assumed), COP {s.cop_ref:g} at "
        f"{s.reference_temp_c:g} deg C (level assumed, slope fitted); outdoor temperature: German mean (OPSD)"]
