"""The grid connection: import/export within limits, PV curtailment, energy cost.

A binary forbids importing and exporting in one step wherever export pays at
least import (elsewhere doing both can never pay, so the LP never does it).
PV may be curtailed at no cost when ``pv_curtailable``, e.g. at negative prices.
"""

from __future__ import annotations

import numpy as np
import pulp

from ems.optim.kinds.base import NonNegative, Record
from ems.optim.result import DayResult


class Grid(Record):
    """Import and export limits of the connection (kW, grid side)."""

    label = "grid"
    max_import_kw: NonNegative
    max_export_kw: NonNegative


def define(m) -> None:
    r = m.request
    g = r.grid
    imp = [m.var(f"import_{t}", 0, g.max_import_kw) for t in range(m.n)]
    exp = [m.var(f"export_{t}", 0, g.max_export_kw) for t in range(m.n)]
    curtail = [m.var(f"curtail_{t}", 0, r.pv_kw[t] if r.pv_curtailable else 0.0) for t in range(m.n)]
    for t in range(m.n):
        m.load[t] += [(imp[t], -1.0), (exp[t], 1.0), (curtail[t], 1.0)]
        m.energy_cost += [(imp[t], m.dt * r.import_price_eur_kwh[t]), (exp[t], -m.dt * r.export_price_eur_kwh[t])]
        if r.export_price_eur_kwh[t] >= r.import_price_eur_kwh[t] and g.max_import_kw > 0 and g.max_export_kw > 0:
            d = m.var(f"grid_dir_{t}", binary=True)
            m.add([(imp[t], 1.0), (d, -g.max_import_kw)], pulp.LpConstraintLE, 0.0, f"import_dir_{t}")
            m.add([(exp[t], 1.0), (d, g.max_export_kw)], pulp.LpConstraintLE, g.max_export_kw, f"export_dir_{t}")
    m.vars["grid"] = {"import": imp, "export": exp, "curtail": curtail}


def extract(m, result: DayResult) -> None:
    def values(variables) -> list[float]:
        return np.maximum([v.varValue or 0.0 for v in variables], 0.0).tolist()

    v = m.vars["grid"]
    result.import_kw, result.export_kw, result.pv_curtailed_kw = (values(v[k]) for k in ("import", "export", "curtail"))


def precheck(r) -> list[str]:
    """Steps whose fixed load exceeds import + everything that could cover it."""
    cover = r.grid.max_import_kw + np.asarray(r.pv_kw)
    if r.battery is not None:
        cover = cover + r.battery.max_discharge_kw
    fixed = np.asarray(r.base_load_kw)
    over = np.flatnonzero(fixed > cover + 1e-9)
    if len(over):
        t = int(over[0])
        return [f"grid: step {t} needs {fixed[t]:g} kW of base load, at most {cover[t]:g} kW available "
                f"(max_import_kw={r.grid.max_import_kw:g} + PV + battery)"]
    return []
