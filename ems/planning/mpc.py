"""Re-planning inside the day (MPC): at every ``replan_hours`` the rest of the horizon is planned again.

At step ``t0`` of a committed plan the house knows the actual base load and PV
of the steps before it, its battery and EV SOC, and which appliance runs have
started. :func:`remainder` is the request over the steps from ``t0`` to the
horizon's end (each part through its kind's ``remainder``: started cycles run
on as fixed load, energy windows keep what they still need, storages start
from their SOC at ``t0``); its base load and PV are the forecast corrected by
the latest observed error (:func:`corrected`). :func:`splice` joins the steps
before ``t0`` of the old plan with the new plan. The horizon's end stays where
the first plan put it (a shrinking horizon inside the planning window).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ems.optim.kinds import device_kind
from ems.optim.request import DayRequest
from ems.optim.result import DayResult, DeviceSchedule, StorageSchedule


def corrected(forecast: np.ndarray, actual: np.ndarray, t0: int, decay: float) -> np.ndarray:
    """The forecast (kW per step) from ``t0`` on, shifted by the error seen in step ``t0 - 1``
    (actual - forecast) fading by ``decay`` per step (persistence of the last error)."""
    forecast = np.asarray(forecast, float)
    if t0 <= 0:
        return forecast.copy()
    error = float(actual[t0 - 1]) - float(forecast[t0 - 1])
    ahead = np.arange(1, len(forecast) - t0 + 1)
    return np.maximum(forecast[t0:] + error * decay ** ahead, 0.0)


def remainder(request: DayRequest, plan: DayResult, t0: int, base_kw: np.ndarray, pv_kw: np.ndarray
              ) -> tuple[DayRequest, dict[str, np.ndarray]]:
    """(the request over steps [t0, n) of ``request`` after ``plan`` was followed until ``t0``, with
    ``base_kw`` / ``pv_kw`` (kW per step from ``t0``) as the new forecast; each device's power from
    ``t0`` that is already committed, e.g. a cycle running on, which the request carries as base load)."""
    running, devices = {}, []
    for d in request.devices:
        left, running[d.name] = device_kind(d.flex_model).remainder(d, plan.devices[d.name], t0, request.step_hours)
        if left is not None:
            devices.append(left)
    fixed = sum(running.values(), np.zeros(request.n_steps - t0))
    update = {"import_price_eur_kwh": list(request.import_price_eur_kwh[t0:]),
              "export_price_eur_kwh": list(request.export_price_eur_kwh[t0:]),
              "base_load_kw": (np.maximum(base_kw, 0.0) + fixed).tolist(), "pv_kw": np.maximum(pv_kw, 0.0).tolist(),
              "devices": devices}
    left = {"battery": [], "ev": []}  # each battery and EV from its SOC at t0; an EV whose sessions all ended is gone
    for kind, spec in request.storages():
        rest = kind.remainder(spec, plan.storages[spec.name], t0)
        if rest is not None:
            left[kind.key].append(rest)
    update["batteries"], update["evs"] = left["battery"], left["ev"]
    return request.model_copy(update=update), running


def _storage(old: StorageSchedule, new: StorageSchedule | None, t0: int, n: int) -> StorageSchedule:
    tail = new if new is not None else StorageSchedule([0.0] * (n - t0), [old.soc_kwh[t0]] * (n - t0 + 1),
                                                       None if old.discharge_kw is None else [0.0] * (n - t0))
    discharge = None
    if old.discharge_kw is not None:
        discharge = list(old.discharge_kw[:t0]) + list(tail.discharge_kw or [0.0] * (n - t0))
    return StorageSchedule(list(old.charge_kw[:t0]) + list(tail.charge_kw), list(old.soc_kwh[:t0 + 1]) +
                           list(tail.soc_kwh[1:]), discharge)


def splice(plan: DayResult, new: DayResult, t0: int, running: dict[str, np.ndarray]) -> DayResult:
    """``plan``'s steps before ``t0`` followed by ``new`` (a plan of the remainder from ``t0``);
    ``running``: each device's committed power from ``t0`` (see :func:`remainder`)."""
    n = len(plan.import_kw)
    devices = {}
    for name, old in plan.devices.items():
        tail = new.devices.get(name)
        power = list(old.power_kw[:t0]) + (running[name] + (np.asarray(tail.power_kw) if tail else 0.0)).tolist()
        starts = None
        if old.starts is not None:
            starts = [k for k in old.starts if k < t0] + [k + t0 for k in (tail.starts or [] if tail else [])]
        devices[name] = DeviceSchedule(power, starts)
    return replace(plan, import_kw=list(plan.import_kw[:t0]) + list(new.import_kw),
                   export_kw=list(plan.export_kw[:t0]) + list(new.export_kw),
                   pv_curtailed_kw=list(plan.pv_curtailed_kw[:t0]) + list(new.pv_curtailed_kw), devices=devices,
                   storages={name: _storage(old, new.storages.get(name), t0, n) for name, old in plan.storages.items()},
                   build_seconds=plan.build_seconds + new.build_seconds,
                   solve_seconds=plan.solve_seconds + new.solve_seconds)


def replan(plan: DayResult, request: DayRequest, every: int, n: int, forecast: tuple[np.ndarray, np.ndarray],
           actual: tuple[np.ndarray, np.ndarray], decay: float,
           solve: Callable[[DayRequest, int], DayResult]) -> tuple[DayResult, list[str]]:
    """(``plan`` re-planned at steps ``every``, ``2 every``, ... before ``n``, the reasons of re-plans
    that failed). ``request`` is what ``plan`` solved (the whole horizon), ``forecast`` its base load
    and PV, ``actual`` the day's actual ones (the steps before each re-plan are known then);
    ``solve(request, t0)`` plans a remainder. A re-plan that fails keeps the plan it had."""
    failed = []
    for t0 in range(every, n, every):
        sub, running = remainder(request, plan, t0, corrected(forecast[0], actual[0], t0, decay),
                                 corrected(forecast[1], actual[1], t0, decay))
        new = solve(sub, t0)
        if not new.ok:
            failed.append(f"re-plan at step {t0}: " + "; ".join(new.diagnosis))
            continue
        plan = splice(plan, new, t0, running)
    if request.devices:
        plan.penalty_eur = float(sum(device_kind(d.flex_model).penalty_eur(request, d, plan.devices[d.name])
                                     for d in request.devices))
    return plan, failed
