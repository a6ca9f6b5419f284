"""A real day as a scheduling problem: the jobs the household's meters demand.

Balance (kWh per hour, documented in the README)::

    base = grid_import (+ separately metered devices) + pv - grid_export - (energy of every flexible job)

* discrete-phase devices: each run (a stretch of hours above
  ``run_threshold_kwh``) is a job with its metered hourly profile as cycle,
  to run once that day; hours below the threshold (standby) stay in base;
* partial-usage devices (heat pump, circulation pump): the day's metered
  energy within the day, at most ``max_kw``;
* the EV (only when an EV agent is configured): the metered energy of the
  morning plug-in window [00:00, departure) and of the evening window
  [arrival, 24:00) must be charged within the same window (the horizon is the
  local day, so a session that spans midnight is two windows); EV energy
  outside the windows stays fixed; without an EV agent all EV energy is fixed;
* continuous loads and unmetered consumption are in ``base``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ems.building import Building
from ems.experiment.days import DayData
from ems.learning.runs import detect_runs
from ems.optim.request import BatterySpec, DayRequest, DiscretePhaseDevice, PartialUsageDevice


@dataclass
class ReplaySettings:
    """See ``conf/replay/default.yaml``."""

    run_threshold_kwh: float = 0.05
    base_load_tolerance_kwh: float = 0.1
    partial_max_kw: dict[str, float] = field(default_factory=dict)


@dataclass
class DayProblem:
    """What one day asks for, with the actual values settlement needs (kW per 1-h step)."""

    day: DayData
    request: DayRequest
    actual_base_kw: np.ndarray
    actual_pv_kw: np.ndarray
    baseline_kw: dict[str, np.ndarray]  # request device name -> what the meter recorded
    device_of: dict[str, str]           # request device name -> building device
    metered_import_kwh: np.ndarray      # grid_import plus separately metered devices
    metered_export_kwh: np.ndarray


def build_problem(day: DayData, building: Building, settings: ReplaySettings, max_kw: dict[str, float],
                  ev_agent=None, battery: BatterySpec | None = None) -> DayProblem | str:
    """The day's problem, or the reason it cannot be posed (e.g. negative base load)."""
    n = day.n_steps
    e = {d: np.nan_to_num(day.meter(d)) for d in building.devices}
    flexible = np.zeros(n)
    devices, baseline, device_of = [], {}, {}
    for name in building.devices_of("discrete_phase"):
        for i, (start, profile) in enumerate(detect_runs(e[name], settings.run_threshold_kwh), 1):
            job = f"{name}#{i}"
            devices.append(DiscretePhaseDevice(job, profile.tolist(), 1, 0, n))
            baseline[job] = np.zeros(n)
            baseline[job][start:start + len(profile)] = profile
            device_of[job] = name
            flexible += baseline[job]
    for name in building.devices_of("partial_usage"):
        if name == "ev":
            continue
        energy = float(e[name].sum())
        cap = max(settings.partial_max_kw.get(name, max_kw.get(name, 0.0)), float(e[name].max(initial=0.0)))
        devices.append(PartialUsageDevice(name, energy, cap, 0, n))
        baseline[name], device_of[name] = e[name], name
        flexible += e[name]
    if ev_agent is not None and "ev" in building.devices:
        flexible += _ev_windows(day, e["ev"], ev_agent, devices, baseline, device_of)
    pv = e["pv"] if "pv" in building.devices else np.zeros(n)
    grid_import = e["grid_import"] + sum((e[d] for d in building.separately_metered), np.zeros(n))
    grid_export = e.get("grid_export", np.zeros(n))
    base = grid_import + pv - grid_export - flexible
    if (base < -settings.base_load_tolerance_kwh).any():
        return f"sub-meters exceed the house balance by more than {settings.base_load_tolerance_kwh:g} kWh in an hour"
    request = DayRequest(
        step_hours=1.0, import_price_eur_kwh=[0.0] * n, export_price_eur_kwh=[0.0] * n,
        pv_kw=pv.tolist(), base_load_kw=np.maximum(base, 0.0).tolist(),
        max_import_kw=building.grid.max_import_kw, max_export_kw=building.grid.max_export_kw,
        devices=devices, battery=battery,
    )
    return DayProblem(day, request, np.maximum(base, 0.0), pv, baseline, device_of, grid_import, grid_export)


def _ev_windows(day: DayData, ev_kwh: np.ndarray, agent, devices: list, baseline: dict, device_of: dict) -> np.ndarray:
    """Add the morning and evening EV windows as partial-usage jobs; return the energy they take over."""
    hour = day.hours["local_hour"].to_numpy()
    taken = np.zeros(day.n_steps)
    for job, mask in (("ev_morning", hour < agent.departure_hour), ("ev_evening", hour >= agent.arrival_hour)):
        steps = np.flatnonzero(mask)
        energy = float(ev_kwh[steps].sum())
        if not len(steps) or energy <= 0:
            continue
        cap = max(agent.max_charge_kw, float(ev_kwh[steps].max()))
        devices.append(PartialUsageDevice(job, energy, cap, int(steps[0]), int(steps[-1]) + 1))
        baseline[job] = np.where(mask, ev_kwh, 0.0)
        device_of[job] = "ev"
        taken += baseline[job]
    return taken
