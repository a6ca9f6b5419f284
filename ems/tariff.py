"""Tariffs: what the household pays per kWh imported and earns per kWh exported.

Every tariff maps an hour table (columns ``utc_hour``, ``local_date``,
``local_hour``, ``price_eur_mwh`` = day-ahead spot price) to per-hour prices in
EUR/kWh. Prices include VAT where a tariff says so; the feed-in tariff is a
fixed EUR/kWh (0.082 for residential PV in the seed study).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ems.checks import require_non_negative


#: Months in a year: an annual demand rate (EUR per kW-year) is billed as a twelfth on each month's peak.
MONTHS = 12


@dataclass
class Tariff:
    """Base: a fixed feed-in tariff for exports and an optional demand (capacity) charge:
    ``demand_eur_kw_year`` EUR per kW-year, billed each month as a twelfth of it per kW of that month's
    peak hourly import (Europe/Berlin calendar months)."""

    feed_in_eur_kwh: float
    demand_eur_kw_year: float = 0.0

    @property
    def demand_eur_kw_month(self) -> float:
        """EUR per kW of a month's peak import."""
        return float(self.demand_eur_kw_year) / MONTHS

    def import_price(self, hours: pl.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def export_price(self, hours: pl.DataFrame) -> np.ndarray:
        """Feed-in remuneration per hour, EUR/kWh."""
        return np.full(hours.height, float(self.feed_in_eur_kwh))


@dataclass
class DynamicTariff(Tariff):
    """Day-ahead price passed through: (spot + surcharges) * (1 + VAT).

    ``surcharges_eur_kwh`` covers grid fees, levies and taxes per kWh (net of
    VAT). An hour without a spot price gets NaN, so its day is not settled.
    """

    surcharges_eur_kwh: float = 0.0
    vat: float = 0.0

    def __post_init__(self) -> None:
        require_non_negative(self, "feed_in_eur_kwh", "demand_eur_kw_year", "surcharges_eur_kwh", "vat")

    def import_price(self, hours: pl.DataFrame) -> np.ndarray:
        spot = hours["price_eur_mwh"].cast(pl.Float64).fill_null(np.nan).to_numpy() / 1000.0
        return (spot + self.surcharges_eur_kwh) * (1.0 + self.vat)


@dataclass
class FixedTariff(Tariff):
    """One price per kWh, optionally a different one per month (``"YYYY-MM": price``)."""

    price_eur_kwh: float = 0.0
    monthly_eur_kwh: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_non_negative(self, "feed_in_eur_kwh", "demand_eur_kw_year", "price_eur_kwh")

    def import_price(self, hours: pl.DataFrame) -> np.ndarray:
        month = hours["local_date"].dt.strftime("%Y-%m")
        prices = month.replace_strict(self.monthly_eur_kwh, default=self.price_eur_kwh, return_dtype=pl.Float64)
        return prices.to_numpy()


@dataclass
class TimeOfUseTariff(Tariff):
    """Peak price in local hours [peak_start_hour, peak_end_hour) on the listed
    weekdays (1 = Monday .. 7 = Sunday), off-peak price otherwise."""

    peak_eur_kwh: float = 0.0
    offpeak_eur_kwh: float = 0.0
    peak_start_hour: int = 8
    peak_end_hour: int = 20
    peak_weekdays: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])

    def __post_init__(self) -> None:
        require_non_negative(self, "feed_in_eur_kwh", "demand_eur_kw_year", "peak_eur_kwh", "offpeak_eur_kwh")
        if not 0 <= self.peak_start_hour < self.peak_end_hour <= 24:
            raise ValueError(
                f"tariff.peak_start_hour/peak_end_hour={self.peak_start_hour}/{self.peak_end_hour}: "
                "need 0 <= start < end <= 24"
            )

    def import_price(self, hours: pl.DataFrame) -> np.ndarray:
        hour = hours["local_hour"].to_numpy()
        weekday = hours["local_date"].dt.weekday().to_numpy()
        peak = (hour >= self.peak_start_hour) & (hour < self.peak_end_hour) & np.isin(weekday, self.peak_weekdays)
        return np.where(peak, self.peak_eur_kwh, self.offpeak_eur_kwh).astype(float)
