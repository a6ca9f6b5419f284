"""Planning horizons: plan ``hours`` from the day's start, commit the day (a receding horizon).

``horizon=day`` plans each local day alone (24 h; the battery must reach its
final SOC at midnight). ``horizon=receding`` plans ``hours`` (24 to 48) from
the day's first hour: the day's own jobs stay in the day, the extra hours
carry the next day's forecast base load and PV and prices (day-ahead prices
of the next day are published at noon, after a midnight decision, so they are
forecast: by default the same hour a week earlier); the battery's final SOC
is required at the end of the horizon, not at midnight, so an evening charge
is kept for a dearer morning instead of being used up just because the day
ends. Only the day is committed: its steps are settled and its end SOC carries
into the next day's plan.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ems.optim.optimize import price
from ems.optim.kinds import device_kind
from ems.optim.request import DayRequest, EVSpec
from ems.optim.result import DayResult, DeviceSchedule, StorageSchedule

#: Receding horizons in hours (from the day's start).
MIN_HOURS, MAX_HOURS = 24, 48
PRICE_FORECASTS = ("last_week", "perfect")


@dataclass
class Horizon:
    """``hours`` planned from each day's start (24: the day alone); ``price_forecast`` for the hours
    beyond the day: ``last_week`` (the same hour seven days earlier; the day's own hour when the
    replay has no such day) or ``perfect`` (the actual prices, an upper bound). ``replan_hours``:
    re-plan the rest of the horizon every so many hours inside the day (MPC, :mod:`ems.planning.mpc`;
    null: plan once at midnight), with the forecast corrected by the last hour's error fading by
    ``error_decay`` per hour."""

    hours: int = 24
    price_forecast: str = "last_week"
    name: str = "day"
    replan_hours: int | None = None
    error_decay: float = 0.5

    def __post_init__(self) -> None:
        if self.replan_hours is not None and (isinstance(self.replan_hours, bool) or
                                              not isinstance(self.replan_hours, int) or
                                              not 1 <= self.replan_hours <= MIN_HOURS - 1):
            raise ValueError(f"horizon.replan_hours={self.replan_hours!r}: must be null (plan once a day) or a "
                             f"whole number of hours in [1, {MIN_HOURS - 1}]")
        if isinstance(self.error_decay, bool) or not isinstance(self.error_decay, (int, float)) or \
                not 0 <= self.error_decay <= 1:
            raise ValueError(f"horizon.error_decay={self.error_decay!r}: must be in [0, 1]")
        if isinstance(self.hours, bool) or not isinstance(self.hours, int) or not MIN_HOURS <= self.hours <= MAX_HOURS:
            raise ValueError(f"horizon.hours={self.hours!r}: must be a whole number in [{MIN_HOURS}, {MAX_HOURS}]")
        if self.price_forecast not in PRICE_FORECASTS:
            raise ValueError(f"horizon.price_forecast={self.price_forecast!r}: must be one of "
                             f"{', '.join(PRICE_FORECASTS)}")

    @property
    def extra_hours(self) -> int:
        """Hours planned beyond the day (0: the day alone)."""
        return self.hours - MIN_HOURS


def extend(request: DayRequest, import_price, export_price, base_kw, pv_kw, evs: list[EVSpec] | None = None
           ) -> DayRequest:
    """``request`` (one day) with more steps appended (kW and EUR/kWh per extra step): its jobs
    keep their windows inside the day, and its battery's final SOC applies at the new end. The
    PMFs are 0 beyond the day (no job may run there). ``evs``: the EVs planned over the longer
    horizon (an overnight session then runs to its departure; default: the day's)."""
    n, extra = request.n_steps, len(import_price)
    if extra == 0:
        return request
    devices = [device_kind(d.flex_model).placed(d.model_copy(update={"latest_end": min(d.latest_end, n)}), 0, n + extra)
               for d in request.devices]
    more = lambda values, added: list(values) + np.asarray(added, float).tolist()  # noqa: E731
    return request.model_copy(update={
        "import_price_eur_kwh": more(request.import_price_eur_kwh, import_price),
        "export_price_eur_kwh": more(request.export_price_eur_kwh, export_price),
        "base_load_kw": more(request.base_load_kw, np.maximum(base_kw, 0.0)),
        "pv_kw": more(request.pv_kw, np.maximum(pv_kw, 0.0)), "devices": devices,
        "evs": evs if evs is not None else request.evs})


def _storage(schedule: StorageSchedule, n: int) -> StorageSchedule:
    discharge = None if schedule.discharge_kw is None else list(schedule.discharge_kw[:n])
    return StorageSchedule(list(schedule.charge_kw[:n]), list(schedule.soc_kwh[:n + 1]), discharge)


def commit(plan: DayResult, day: DayRequest) -> DayResult:
    """The first ``day.n_steps`` steps of a longer plan, priced as the day (the rest is re-planned)."""
    n = day.n_steps
    if not plan.ok or len(plan.import_kw) == n:
        return plan
    devices = {name: DeviceSchedule(list(s.power_kw[:n]), None if s.starts is None else [k for k in s.starts if k < n])
               for name, s in plan.devices.items()}
    committed = replace(plan, import_kw=list(plan.import_kw[:n]), export_kw=list(plan.export_kw[:n]),
                        pv_curtailed_kw=list(plan.pv_curtailed_kw[:n]), devices=devices,
                        storages={name: _storage(s, n) for name, s in plan.storages.items()})
    price(day, committed)
    committed.penalty_eur = plan.penalty_eur or 0.0
    committed.add_up()
    return committed
