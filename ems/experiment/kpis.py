"""Key performance indicators: pure functions of arrays (kW per step, EUR/kWh, hours).

Percentages are 0..100; a ratio with a zero denominator is NaN (undefined),
never 0.
"""

from __future__ import annotations

import numpy as np

from ems.optim.result import energy_cost_eur  # noqa: F401  (the energy-cost KPI)


def share_pct(part: float, whole: float) -> float:
    """``part`` as a percentage of ``whole``; NaN when ``whole`` is not positive."""
    return float(part / whole * 100.0) if whole > 0 else float("nan")




def savings(baseline_cost_eur: float, cost_eur: float, baseline_import_cost_eur: float) -> tuple[float, float]:
    """(EUR saved, % saved of the baseline's gross import cost).

    The percentage is taken of what the baseline pays for its imports (before
    feed-in revenue), not of its net cost: a summer month with PV has a net cost
    near or below zero, where a share of it means nothing. NaN when the baseline
    imports nothing at a positive cost.
    """
    saved = baseline_cost_eur - cost_eur
    return float(saved), share_pct(saved, baseline_import_cost_eur)


def import_cost_eur(import_kw, import_price, step_hours: float = 1.0) -> float:
    """Gross import cost (EUR): kW per step x step hours x EUR/kWh, without export revenue."""
    return float(step_hours * np.dot(import_kw, import_price))


def peak_import_kw(import_kw) -> float:
    """Largest import power (kW)."""
    return float(np.max(import_kw, initial=0.0))


def demand_charge_eur(month_peak_kw, eur_per_kw_month) -> float:
    """The demand charges (EUR) of whole billing months: each month's peak import (kW) times its rate
    (EUR per kW of the month's peak)."""
    return float(np.dot(np.asarray(month_peak_kw, float), np.asarray(eur_per_kw_month, float)))


def peak_reduction_pct(baseline_peak_kw: float, peak_kw: float) -> float:
    """How much lower the peak import is than the baseline's (%)."""
    return share_pct(baseline_peak_kw - peak_kw, baseline_peak_kw)


def pv_self_consumption_pct(pv_kw, export_kw, curtailed_kw) -> float:
    """Share of the PV energy used on site (not exported, not curtailed)."""
    pv = float(np.sum(pv_kw))
    return share_pct(pv - float(np.sum(export_kw)) - float(np.sum(curtailed_kw)), pv)


def self_sufficiency_pct(import_kw, export_kw, pv_kw, curtailed_kw) -> float:
    """Share of the site's consumption (import - export + used PV) not imported."""
    consumption = float(np.sum(import_kw) - np.sum(export_kw) + np.sum(pv_kw) - np.sum(curtailed_kw))
    return share_pct(consumption - float(np.sum(import_kw)), consumption)


#: Prices (EUR/kWh) equal to this many decimals count as one price level in ``kwh_shifted``.
PRICE_DECIMALS = 9


def kwh_shifted(planned_kw: dict[str, np.ndarray], baseline_kw: dict[str, np.ndarray], price_eur_kwh,
                step_hours: float = 1.0) -> float:
    """Energy moved between steps of different price, summed over devices (kWh).

    Per device and price level, the net change of energy there (planned -
    metered); the energy shifted is what the levels gained in total. A run moved
    to another step of the same price (e.g. within a flat tariff) shifts nothing.
    """
    levels, index = np.unique(np.round(np.asarray(price_eur_kwh, float), PRICE_DECIMALS), return_inverse=True)
    total = 0.0
    for d in planned_kw:
        change = np.bincount(index, weights=np.asarray(planned_kw[d], float) - np.asarray(baseline_kw[d], float),
                             minlength=len(levels))
        total += float(np.maximum(change, 0.0).sum()) * step_hours
    return total


def battery_equivalent_full_cycles(charge_kw, discharge_kw, capacity_kwh: float, step_hours: float = 1.0) -> float:
    """(charged + discharged energy) / (2 x capacity): full cycles the throughput amounts to."""
    if capacity_kwh <= 0:
        return 0.0
    return float((np.sum(charge_kw) + np.sum(discharge_kw)) * step_hours / (2.0 * capacity_kwh))


def starts_in_pmf_pct(start_probabilities: list[float], theta: float) -> float:
    """Share of scheduled starts in hours whose PMF value is >= theta (%): how often the plan kept to
    the PMF it was given (100 % by construction where the PMF restricted the hours)."""
    if not start_probabilities:
        return float("nan")
    return share_pct(sum(p >= theta for p in start_probabilities), len(start_probabilities))


def as_household(scheduled_starts: np.ndarray, household_starts: np.ndarray, tolerance_steps: int) -> int:
    """How many scheduled starts lie within ``tolerance_steps`` of the household's own start of the
    same run that day (steps; one pair per run)."""
    scheduled, household = np.asarray(scheduled_starts), np.asarray(household_starts)
    return int(np.sum(np.abs(scheduled - household) <= tolerance_steps))
