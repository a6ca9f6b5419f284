"""What the household needs on one local day: the input of the one day-request builder
(:meth:`ems.agents.optimizer.GlobalOptimizer.request`).

Two sources give the same record: a metered day (:func:`metered_needs`, for
the replay) and a building's typical profile (``ems.service.profiles``, for
the service and the pyfunc model). Balance of a metered day (kWh per hour,
documented in the README)::

    base = grid_import (+ separately metered devices) + pv - grid_export - (energy of every flexible job)

* discrete-phase devices: each run (a stretch of hours above
  ``run_threshold_kwh``) is a job with its metered hourly profile as cycle,
  to run once that day; hours below the threshold (standby) stay in base;
* partial-usage devices (heat pump, circulation pump): the day's metered
  energy within the day, at most ``max_kw``;
* each EV (only with EV agents; each reads its own EV meter): each charging run of its meter (hours
  above ``run_threshold_kwh``) is a plug-in session whose metered energy is
  the grid-side charge it needs by its departure (a storage with a deadline;
  an evening session runs overnight into the next day: see
  ``ems.agents.ev``); EV hours below the threshold stay fixed; without an
  EV agent all EV energy is fixed;
* PV is every generation meter summed; continuous loads and unmetered
  consumption are in ``base``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from ems.building import EV, Building
from ems.data.days import DayData
from ems.learning.runs import detect_runs
from ems.optim.request import Device, DiscretePhaseDevice, PartialUsageDevice


@dataclass
class ReplaySettings:
    """See ``conf/replay/default.yaml``."""

    run_threshold_kwh: float = 0.05
    base_load_tolerance_kwh: float = 0.1
    partial_max_kw: dict[str, float] = field(default_factory=dict)
    satisfaction_tolerance_h: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.satisfaction_tolerance_h, bool) or not isinstance(self.satisfaction_tolerance_h, int) \
                or self.satisfaction_tolerance_h < 0:
            raise ValueError(f"replay.satisfaction_tolerance_h={self.satisfaction_tolerance_h!r}: expected a whole "
                             f"number of hours >= 0")
        values = {"run_threshold_kwh": self.run_threshold_kwh, "base_load_tolerance_kwh": self.base_load_tolerance_kwh,
                  **{f"partial_max_kw.{d}": kw for d, kw in self.partial_max_kw.items()}}
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"replay.{key}={value!r}: expected a finite number")
            if value < 0:
                raise ValueError(f"replay.{key}={value!r}: must not be negative")


@dataclass(frozen=True)
class SessionNeed:
    """One plug-in session of a local day (steps of the day): plugged in at ``arrival_step``,
    ``energy_kwh`` (grid side) charged by ``departure_step`` (exclusive); ``peak_kw`` the most
    the meter saw in one hour. ``overnight``: the car stays until the next morning's departure,
    so the session continues past the day's end (:meth:`ems.agents.ev.EVAgent.link` resolves how far)."""

    arrival_step: int
    departure_step: int
    energy_kwh: float
    peak_kw: float
    overnight: bool = False



@dataclass
class DayNeeds:
    """One local day's needs (kW per 1-h step; ``local_hours`` the wall-clock hour of each step).

    ``devices`` are the day's jobs (no PMF yet); ``device_of`` maps each job to
    its building device; ``ev_sessions`` are each EV's plug-in sessions (by EV agent name) with the
    grid-side energy each charges. ``baseline_kw`` / ``ev_baseline_kw`` (by EV agent name) and the
    metered grid exchange (kWh per hour; import includes separately metered
    devices) hold what the meters recorded (a metered day only).
    """

    day: date
    local_hours: np.ndarray
    base_kw: np.ndarray
    pv_kw: np.ndarray
    devices: list[Device] = field(default_factory=list)
    device_of: dict[str, str] = field(default_factory=dict)
    ev_sessions: dict[str, list[SessionNeed]] = field(default_factory=dict)
    baseline_kw: dict[str, np.ndarray] = field(default_factory=dict)
    ev_baseline_kw: dict[str, np.ndarray] = field(default_factory=dict)
    metered_import_kwh: np.ndarray | None = None
    metered_export_kwh: np.ndarray | None = None

    @property
    def n_steps(self) -> int:
        return len(self.local_hours)


def ev_meters(building: Building, agent) -> list[str]:
    """The building's EV meters whose runs are ``agent``'s sessions: its ``meter``, or every EV meter."""
    if agent.meter is None:
        return building.devices_of(EV)
    if agent.meter not in building.devices_of(EV):
        raise ValueError(f"{agent.name}.meter={agent.meter!r}: not an EV meter of {building.id} "
                         f"(its EV meters: {', '.join(building.devices_of(EV)) or 'none'})")
    return [agent.meter]


def metered_needs(day: DayData, building: Building, settings: ReplaySettings, max_kw: dict[str, float],
                  ev_agents=()) -> DayNeeds | str:
    """The needs of a metered day, or the reason it cannot be posed (e.g. negative base load).
    ``ev_agents``: the EV agents (none: every EV's charging stays as metered)."""
    n = day.n_steps
    hours = day.hours["local_hour"].to_numpy()
    e = {d: np.nan_to_num(day.meter(d)) for d in (*building.devices, *building.synthetic_meters)}
    needs = DayNeeds(day.day, hours, np.zeros(n), np.zeros(n))
    flexible = np.zeros(n)
    for name in building.devices_of("discrete_phase"):
        for i, (start, profile) in enumerate(detect_runs(e[name], settings.run_threshold_kwh), 1):
            job = f"{name}#{i}"
            needs.devices.append(DiscretePhaseDevice(name=job, phases_kw=profile.tolist(), latest_end=n))
            needs.baseline_kw[job] = np.zeros(n)
            needs.baseline_kw[job][start:start + len(profile)] = profile
            needs.device_of[job] = name
            flexible += needs.baseline_kw[job]
    for name in building.devices_of("partial_usage"):
        cap = max(settings.partial_max_kw.get(name, max_kw.get(name, 0.0)), float(e[name].max(initial=0.0)))
        needs.devices.append(PartialUsageDevice(name=name, energy_kwh=float(e[name].sum()), max_kw=cap, latest_end=n))
        needs.baseline_kw[name], needs.device_of[name] = e[name], name
        flexible += e[name]
    for agent in ev_agents:
        meters = ev_meters(building, agent)
        if meters:
            meter = sum((e[name] for name in meters), np.zeros(n))
            needs.ev_sessions[agent.name] = agent.sessions_of(hours, meter, settings.run_threshold_kwh)
            taken = np.where(meter > settings.run_threshold_kwh, meter, 0.0)  # the runs' hours; standby stays in base
            needs.ev_baseline_kw[agent.name] = taken
            flexible += taken
    pv = sum((e[m] for m in building.devices_of("generation")), np.zeros(n))
    supplied = (*building.separately_metered, *building.synthetic_meters)  # through their own supply meters
    grid_import = e["grid_import"] + sum((e[d] for d in supplied), np.zeros(n))
    grid_export = e.get("grid_export", np.zeros(n))
    base = grid_import + pv - grid_export - flexible
    if (base < -settings.base_load_tolerance_kwh).any():
        return f"sub-meters exceed the house balance by more than {settings.base_load_tolerance_kwh:g} kWh in an hour"
    needs.base_kw, needs.pv_kw = np.maximum(base, 0.0), pv
    needs.metered_import_kwh, needs.metered_export_kwh = grid_import, grid_export
    return needs
