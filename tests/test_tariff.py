"""Tariffs and priors on hand-computed cases."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from ems.data.calendar import local_day_hours
from ems.learning.priors import HouseholdPrior, UniformPrior
from ems.tariff import DynamicTariff, FixedTariff, TimeOfUseTariff


def hours(day: date, prices: list[float] | None = None) -> pl.DataFrame:
    frame = local_day_hours(day, day, "Europe/Berlin")
    values = prices if prices is not None else [40.0] * frame.height
    return frame.with_columns(price_eur_mwh=pl.Series(values, dtype=pl.Float64))


def test_dynamic_tariff_adds_surcharges_and_vat():
    h = hours(date(2016, 6, 1), [50.0, -20.0] + [0.0] * 22)
    price = DynamicTariff(feed_in_eur_kwh=0.082, surcharges_eur_kwh=0.2, vat=0.19).import_price(h)
    assert price[:3] == pytest.approx([(0.05 + 0.2) * 1.19, (-0.02 + 0.2) * 1.19, 0.2 * 1.19])
    assert DynamicTariff(feed_in_eur_kwh=0.082).export_price(h).tolist() == [0.082] * 24


def test_fixed_tariff_by_month():
    tariff = FixedTariff(feed_in_eur_kwh=0.082, price_eur_kwh=0.3, monthly_eur_kwh={"2016-02": 0.25})
    assert set(tariff.import_price(hours(date(2016, 2, 29)))) == {0.25}
    assert set(tariff.import_price(hours(date(2016, 3, 1)))) == {0.3}


def test_time_of_use_on_local_hours_including_dst():
    tariff = TimeOfUseTariff(feed_in_eur_kwh=0.08, peak_eur_kwh=0.4, offpeak_eur_kwh=0.2, peak_start_hour=8,
                             peak_end_hour=20)
    monday = tariff.import_price(hours(date(2016, 3, 28)))  # a Monday, 24 h
    assert monday.tolist() == [0.2] * 8 + [0.4] * 12 + [0.2] * 4
    sunday = tariff.import_price(hours(date(2016, 3, 27)))  # DST Sunday: 23 h, all off-peak
    assert sunday.tolist() == [0.2] * 23
    with pytest.raises(ValueError, match="tariff.peak_start_hour/peak_end_hour=20/8"):
        TimeOfUseTariff(feed_in_eur_kwh=0.08, peak_start_hour=20, peak_end_hour=8)


def test_household_prior_windows_by_hand():
    prior = HouseholdPrior(windows={"dishwasher": [[19, 21], [13, 14]], "ev": [[22, 6]]}, window_weight=1.0,
                           background_weight=0.05)
    pmf = prior.pmf_of("dishwasher", "weekday")
    # 5 window hours at weight 1, 19 others at 0.05: total 5.95.
    assert pmf[[13, 14, 19, 20, 21]] == pytest.approx([1 / 5.95] * 5)
    assert pmf[0] == pytest.approx(0.05 / 5.95)
    ev = prior.pmf_of("ev", "weekend")
    assert np.flatnonzero(ev > ev.min()).tolist() == [0, 1, 2, 3, 4, 5, 6, 22, 23]
    assert prior.pmf_of("heat_pump", "weekday") == pytest.approx(UniformPrior().pmf_of("heat_pump", "weekday"))
    with pytest.raises(ValueError, match="day type 'holiday'"):
        prior.pmf_of("ev", "holiday")
