"""The seed system's own heuristics (its README's strategies), as a scheduler to compare the MILP with.

* **EV, three phases** per plug-in session: (1) opportunity charging in the session's cheapest
  ``opportunity_quantile`` of hours, up to ``opportunity_share`` of the session's need; (2) critical
  charging: the rest up to ``critical_frac`` of the need just in time, in the last hours before
  departure (a rule that guarantees the departure SOC without an optimiser; not the cheapest hours);
  (3) the last part only in the session's cheapest ``late_quantile`` of hours or from PV surplus, and
  where that cannot hold it, again just in time (a session must reach its target: the validator
  checks it).
* **Battery, multi-priority** against the house's net load after the devices and the EV: (1) store PV
  surplus; (2) cover the house's deficit from the battery in hours whose price is at least the day's
  median; (3) price arbitrage: charge from the grid in the cheapest ``arbitrage_quantile`` of hours when
  the dearest hours' price times the round-trip efficiency, less the wear of both ways, beats it, and
  only as much as the dearest hours' deficit can use. Never below max(soc_min, soc_final_min).

Devices are placed as the rule-based scheduler places them (cheapest window outside the dearest
quarter). Prices are import prices (EUR/kWh); power in kW per step. The result goes through the same
independent validator as the MILP's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ems.optim.kinds.storage import EV, BatterySpec, EVSpec
from ems.optim.request import DayRequest
from ems.optim.result import DayResult, StorageSchedule
from ems.optim.rules import place_devices, settle_rules


@dataclass(frozen=True)
class SeedRules:
    """The heuristics' knobs (``conf/mode/seed_heuristic.yaml``); quantiles and shares are fractions."""

    opportunity_quantile: float = 0.25
    opportunity_share: float = 0.5
    critical_frac: float = 0.95
    late_quantile: float = 0.10
    arbitrage_quantile: float = 0.25

    def __post_init__(self) -> None:
        for key in ("opportunity_quantile", "opportunity_share", "critical_frac", "late_quantile",
                    "arbitrage_quantile"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"mode.{key}={value!r}: must be a fraction in [0, 1]")


def cheapest(price: np.ndarray, steps: np.ndarray, share: float) -> np.ndarray:
    """The ``share`` of ``steps`` with the lowest price (at least one when ``share`` > 0), cheapest first."""
    if len(steps) == 0 or share <= 0:
        return np.zeros(0, int)
    k = max(1, int(round(share * len(steps))))
    return steps[np.argsort(price[steps], kind="stable")][:k]


def seed_heuristic_schedule(r: DayRequest, rules: SeedRules = SeedRules()) -> DayResult:
    """Schedule ``r`` by the seed's heuristics (see the module docstring)."""
    prices, pv = np.asarray(r.import_price_eur_kwh, float), np.asarray(r.pv_kw, float)
    result = DayResult(status="feasible", solver="seed_heuristic")
    problems, penalty, load = place_devices(r, prices, result)
    if problems:
        return DayResult(status="infeasible", diagnosis=problems, solver="seed_heuristic")
    for ev in r.evs:  # each car in turn, against the house load with the cars before it
        charge = ev_three_phase(ev, prices, load - pv, r.step_hours, rules)
        result.storages[ev.name] = EV.from_charge(ev, charge, r.step_hours)
        load = load + charge
    for b in r.batteries:
        if b.soc_init_kwh < b.soc_final_min_kwh - 1e-9:
            return DayResult(status="infeasible", solver="seed_heuristic", diagnosis=[
                f"{b.name}: starts at {b.soc_init_kwh:g} kWh, below soc_final_min_kwh="
                f"{b.soc_final_min_kwh:g}; the heuristics never charge to a floor"])
    for b in r.batteries:  # each battery in turn, against what the batteries before it left of the house load
        plan = result.storages[b.name] = battery_multi_priority(b, prices, load - pv, r.step_hours, rules)
        load = load + np.asarray(plan.charge_kw) - np.asarray(plan.discharge_kw)
    return settle_rules(r, result, load, penalty, "the heuristics")


def ev_three_phase(ev: EVSpec, prices: np.ndarray, net_kw: np.ndarray, dt: float, rules: SeedRules) -> np.ndarray:
    """Grid-side charging (kW per step) of every session by the seed's three phases."""
    charge = np.zeros(len(prices))
    for s in ev.sessions:
        steps = np.arange(s.arrival_step, s.deadline_step)
        need = max(s.soc_target_kwh - s.soc_init_kwh, 0.0)  # kWh into the battery
        done = 0.0

        def fill(candidates, upto: float) -> float:
            got = 0.0
            for t in candidates:
                room = (ev.max_charge_kw - charge[t]) * ev.charge_efficiency * dt
                take = min(room, upto - got)
                if take <= 1e-12:
                    continue
                charge[t] += take / (ev.charge_efficiency * dt)
                got += take
            return got

        latest_first = steps[::-1]
        done += fill(cheapest(prices, steps, rules.opportunity_quantile), rules.opportunity_share * need)
        done += fill(latest_first, rules.critical_frac * need - done)
        late = np.union1d(cheapest(prices, steps, rules.late_quantile), steps[net_kw[steps] < 0])
        done += fill(late[np.argsort(prices[late], kind="stable")], need - done)
        fill(latest_first, need - done)  # what the cheap and PV hours could not hold, just in time
    return charge


def battery_multi_priority(b: BatterySpec, prices: np.ndarray, net_kw: np.ndarray, dt: float,
                           rules: SeedRules) -> StorageSchedule:
    """PV surplus first, then the deficit of dear hours, then price arbitrage (see the module docstring)."""
    n = len(prices)
    steps = np.arange(n)
    floor = max(b.soc_min_kwh, b.soc_final_min_kwh)
    median = float(np.median(prices))
    cheap = set(cheapest(prices, steps, rules.arbitrage_quantile).tolist())
    dear = cheapest(-prices, steps, rules.arbitrage_quantile)
    round_trip = b.charge_efficiency * b.discharge_efficiency
    worth = float(np.mean(prices[dear])) * round_trip - 2 * b.degradation_eur_kwh  # EUR per kWh bought
    wanted = float(np.sum(np.maximum(net_kw[dear], 0.0))) * dt / b.discharge_efficiency  # kWh stored for them
    charge, discharge, soc = np.zeros(n), np.zeros(n), [b.soc_init_kwh]
    bought = 0.0
    for t in range(n):
        level = soc[-1]
        room = max(b.soc_max_kwh - level, 0.0) / (b.charge_efficiency * dt)
        if net_kw[t] < 0:  # 1: store PV surplus
            charge[t] = min(b.max_charge_kw, -net_kw[t], room)
        elif prices[t] >= median:  # 2: cover the house from the battery when grid power is dear
            discharge[t] = min(b.max_discharge_kw, net_kw[t], max(level - floor, 0.0) * b.discharge_efficiency / dt)
        elif t in cheap and prices[t] < worth and bought < wanted:  # 3: arbitrage, no more than the dear hours use
            charge[t] = min(b.max_charge_kw, room, (wanted - bought) / (b.charge_efficiency * dt))
            bought += charge[t] * b.charge_efficiency * dt
        soc.append(level + dt * (b.charge_efficiency * charge[t] - discharge[t] / b.discharge_efficiency))
    return StorageSchedule(charge.tolist(), soc, discharge.tolist())
