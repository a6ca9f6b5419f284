"""What a building typically needs, from its own meters: the basis of the short-form request.

Per calendar month and local hour: mean base load (import + PV - export -
flexible meters, kW) and mean PV (kW); per month: mean daily energy of each
partial-usage device and of the EV (kWh); per discrete-phase device: its
typical cycle (``ems.learning.cycles``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from ems.data.calendar import WHOLE_RECORD
from ems.data.store import Store
from ems.learning.cycles import typical_cycles
from ems.learning.runs import RunSettings
from ems.learning.usage import load_usage
from ems.optim.request import DiscretePhaseDevice, PartialUsageDevice
from ems.planning.needs import DayNeeds, SessionNeed, ev_meters


@dataclass
class BuildingProfile:
    """Typical profiles of one building (kW per local hour, kWh per day)."""

    base_kw: dict[int, np.ndarray]       # month -> 24 values
    pv_kw: dict[int, np.ndarray]         # month -> 24 values
    daily_kwh: dict[str, dict[int, float]]  # device -> month -> kWh/day
    cycles: dict[str, list[float]]       # discrete device -> phases_kw
    max_kw: dict[str, float]             # partial-usage device -> largest metered hourly energy (kWh/h = kW)

    def hourly(self, table: dict[int, np.ndarray], month: int) -> np.ndarray:
        """The month's profile (the nearest month with data when it has none)."""
        if not table:
            return np.zeros(24)
        key = min(table, key=lambda m: min(abs(m - month), 12 - abs(m - month)))
        return table[key]


def build_profile(store: Store, building, runs: RunSettings | None = None) -> BuildingProfile:
    """Typical profiles of ``building`` over its whole record."""
    flexible = [*building.flexible(), *building.devices_of("ev")]
    long = store.query(
        "SELECT device, utc_hour, local_date, CASE WHEN valid THEN energy_kwh END AS kwh FROM readings "
        "WHERE building = ?", [building.id])
    local = pl.col("utc_hour").dt.replace_time_zone("UTC").dt.convert_time_zone(store.timezone)
    wide = long.pivot(on="device", index=["utc_hour", "local_date"], values="kwh", aggregate_function=None).with_columns(
        month=pl.col("local_date").dt.month(), hour=local.dt.hour())
    zero = pl.lit(0.0)
    grid_in = pl.col("grid_import") + pl.sum_horizontal([pl.col(d) for d in building.separately_metered] or [zero])
    pv = pl.sum_horizontal([pl.col(m) for m in building.devices_of("generation") if m in wide.columns] or [zero])
    export = pl.col("grid_export") if "grid_export" in wide.columns else zero
    flex = pl.sum_horizontal([pl.col(d).fill_null(0.0) for d in flexible if d in wide.columns] or [zero])
    wide = wide.with_columns(base=(grid_in + pv - export - flex).clip(lower_bound=0.0), pv_kw=pv)
    by_hour = wide.drop_nulls(["base"]).group_by("month", "hour").agg(pl.col("base").mean(), pl.col("pv_kw").mean())
    base = _table(by_hour, "base")
    pvs = _table(by_hour, "pv_kw")
    daily = {}
    for device in [*building.devices_of("partial_usage"), *building.devices_of("ev")]:
        per_day = (wide.filter(pl.col(device).is_not_null()).group_by("local_date", "month")
                   .agg(kwh=pl.col(device).sum(), n=pl.len()).filter(pl.col("n") >= 23))
        daily[device] = dict(per_day.group_by("month").agg(pl.col("kwh").mean()).iter_rows())
    usage = load_usage(store, building, *WHOLE_RECORD, runs or RunSettings())
    discrete = usage.events.filter(pl.col("device").is_in(building.devices_of("discrete_phase")))
    cycles = {d: c.phases_kw for d, c in typical_cycles(discrete).items()}
    max_kw = {d: float(wide[d].max() or 0.0) for d in daily if d in wide.columns}
    return BuildingProfile(base, pvs, daily, cycles, max_kw)


def _table(by_hour: pl.DataFrame, column: str) -> dict[int, np.ndarray]:
    out = {}
    for month in by_hour["month"].unique().to_list():
        rows = by_hour.filter(pl.col("month") == month).sort("hour")
        values = np.zeros(24)
        values[rows["hour"].to_numpy()] = rows[column].fill_null(0.0).to_numpy()
        out[int(month)] = values
    return out


def to_json(profile: BuildingProfile) -> dict:
    """A JSON-ready copy (for packaging the service as an MLflow model)."""
    return {"base_kw": {str(m): v.tolist() for m, v in profile.base_kw.items()},
            "pv_kw": {str(m): v.tolist() for m, v in profile.pv_kw.items()},
            "daily_kwh": {d: {str(m): v for m, v in t.items()} for d, t in profile.daily_kwh.items()},
            "cycles": profile.cycles, "max_kw": profile.max_kw}


def from_json(data: dict) -> BuildingProfile:
    return BuildingProfile({int(m): np.asarray(v) for m, v in data["base_kw"].items()},
                           {int(m): np.asarray(v) for m, v in data["pv_kw"].items()},
                           {d: {int(m): v for m, v in t.items()} for d, t in data["daily_kwh"].items()},
                           data["cycles"], data["max_kw"])


def typical_needs(profile: BuildingProfile, building, day: date, hours: np.ndarray, ev_agents=()) -> DayNeeds:
    """A typical day of ``day``'s month: one run of each discrete-phase device with its typical cycle,
    each partial-usage device's mean daily energy, the typical base load and PV by local hour, and
    (per EV agent) its meter's mean daily energy, charged in the morning session (by departure)."""
    n = len(hours)
    needs = DayNeeds(day, hours, profile.hourly(profile.base_kw, day.month)[hours],
                     profile.hourly(profile.pv_kw, day.month)[hours])
    for device, phases in profile.cycles.items():
        if len(phases) <= n:
            needs.devices.append(DiscretePhaseDevice(name=device, phases_kw=list(phases), latest_end=n))
            needs.device_of[device] = device
    for device in building.devices_of("partial_usage"):
        energy = float(profile.daily_kwh.get(device, {}).get(day.month, 0.0))
        if energy > 0:
            cap = max(profile.max_kw.get(device, 0.0), energy / n)
            needs.devices.append(PartialUsageDevice(name=device, energy_kwh=energy, max_kw=cap, latest_end=n))
            needs.device_of[device] = device
    for agent in ev_agents:
        energy = sum(float(profile.daily_kwh.get(d, {}).get(day.month, 0.0)) for d in ev_meters(building, agent))
        morning = int((hours < agent.departure_hour).sum())
        if energy > 0 and morning:
            needs.ev_sessions[agent.name] = [SessionNeed(0, morning, min(energy, agent.max_charge_kw * morning), 0.0)]
    return needs
