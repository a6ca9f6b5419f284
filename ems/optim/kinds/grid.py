"""The grid connection: import/export within limits, PV curtailment, energy cost, a demand charge.

A binary forbids importing and exporting in one step wherever export pays at
least import (elsewhere doing both can never pay, so an optimum does it only
in a tie; a solution that does is solved again with every binary).
PV may be curtailed at no cost when ``pv_curtailable``, e.g. at negative prices.
"""

from __future__ import annotations

import numpy as np

from ems.optim.kinds.base import NonNegative, Record
from ems.optim.result import DayResult


class Grid(Record):
    """Import and export limits of the connection (kW, grid side)."""

    label = "grid"
    max_import_kw: NonNegative
    max_export_kw: NonNegative


class DemandCharge(Record):
    """A capacity charge on the peak import: ``eur_per_kw`` per kW of the billing period's peak (e.g. a
    month's), of which ``peak_so_far_kw`` is already set (billed anyway): a plan pays only for raising it."""

    label = "demand charge"
    eur_per_kw: NonNegative
    peak_so_far_kw: NonNegative = 0.0


def demand_eur(r, import_kw) -> float:
    """The demand charge a schedule adds (EUR): the rate times its peak import above the peak so far."""
    d = r.demand_charge
    if d is None or d.eur_per_kw == 0 or len(import_kw) == 0:
        return 0.0
    return float(d.eur_per_kw * max(float(np.max(import_kw)) - d.peak_so_far_kw, 0.0))


def define(m) -> None:
    """Import, export and curtailment columns (kW) per step, their energy cost, and the direction
    binaries where export pays at least import."""
    r, g = m.request, m.request.grid
    steps = np.arange(m.n)
    imp = m.columns(m.n, 0.0, g.max_import_kw)
    exp = m.columns(m.n, 0.0, g.max_export_kw)
    curtail = m.columns(m.n, 0.0, np.asarray(r.pv_kw, float) if r.pv_curtailable else 0.0)
    m.into_balance(imp, steps, -1.0)
    m.into_balance(exp, steps, 1.0)
    m.into_balance(curtail, steps, 1.0)
    buy, sell = np.asarray(r.import_price_eur_kwh, float), np.asarray(r.export_price_eur_kwh, float)
    m.cost("energy", imp, m.dt * buy)
    m.cost("energy", exp, -m.dt * sell)
    both_possible = g.max_import_kw > 0 and g.max_export_kw > 0
    # Where export pays less than import, doing both only costs, so no binary is needed; but a price gap
    # below the solver's tolerance (e.g. import at 1e-105 EUR/kWh, export at 0) is a tie the solver may
    # break either way: the full model (``m.full``, used when a solution shows simultaneity) has every binary.
    needed = np.ones(m.n, dtype=bool) if m.full else sell >= buy
    m.pair("grid", imp, exp, g.max_import_kw, g.max_export_kw, needed & both_possible)
    m.vars["grid"] = {"import": imp, "export": exp, "curtail": curtail}
    d = r.demand_charge
    if d is not None and d.eur_per_kw > 0:  # peak >= every step's import and >= the peak so far (billed anyway)
        peak = m.columns(1, d.peak_so_far_kw, max(g.max_import_kw, d.peak_so_far_kw))
        rows = m.rows(m.n, -np.inf, 0.0)
        m.coefs(rows, imp, 1.0)
        m.coefs(rows, peak[0], -1.0)
        m.cost("demand", peak, d.eur_per_kw)  # the constant eur_per_kw x peak_so_far is left in: same optimum
        m.vars["grid"]["peak"] = peak


def extract(m, x: np.ndarray, result: DayResult) -> None:
    v = m.vars["grid"]
    result.import_kw, result.export_kw, result.pv_curtailed_kw = (
        np.maximum(x[v[k]], 0.0).tolist() for k in ("import", "export", "curtail"))


def precheck(r) -> list[str]:
    """Steps whose fixed load exceeds import + everything that could cover it."""
    cover = r.grid.max_import_kw + np.asarray(r.pv_kw)
    cover = cover + sum(b.max_discharge_kw for b in r.batteries)
    fixed = np.asarray(r.base_load_kw)
    over = np.flatnonzero(fixed > cover + 1e-9)
    if len(over):
        t = int(over[0])
        return [f"grid: step {t} needs {fixed[t]:g} kW of base load, at most {cover[t]:g} kW available "
                f"(max_import_kw={r.grid.max_import_kw:g} + PV + batteries)"]
    return []
