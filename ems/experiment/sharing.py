"""How a community's bill is split: energy shared inside a step at the internal price, the rest at the tariff.

In each step, with ``net_b`` the building's net exchange with the community
bus (kW, + = it draws), the community's demand ``D = sum max(net_b, 0)`` and
surplus ``S = sum max(-net_b, 0)`` meet first: ``min(D, S)`` is shared. Each
drawing building gets its share of the shared energy in proportion to its
demand and pays the internal price for it and the import price for the rest;
each supplying building sells its share in proportion to its surplus at the
internal price and the rest at the export price. Internal payments cancel, so
the buildings' costs add up to the community's energy cost exactly (what the
tests check). Powers kW, prices EUR/kWh, costs EUR; pure functions of arrays.
"""

from __future__ import annotations

import numpy as np


def internal_price(import_eur_kwh, export_eur_kwh, fixed_eur_kwh: float | None) -> np.ndarray:
    """The internal price per step: ``fixed_eur_kwh``, or (None) the midpoint of import and export price."""
    buy, sell = np.asarray(import_eur_kwh, float), np.asarray(export_eur_kwh, float)
    return np.full(len(buy), float(fixed_eur_kwh)) if fixed_eur_kwh is not None else (buy + sell) / 2.0


def split_costs(net_kw: dict[str, np.ndarray], import_eur_kwh, export_eur_kwh, internal_eur_kwh,
                step_hours: float = 1.0) -> tuple[dict[str, float], dict[str, tuple[float, float]], np.ndarray]:
    """Each building's energy cost (EUR) in the community, the energy (kWh) it took from and gave to the
    others, and the energy shared per step (kWh)."""
    nets = np.vstack([np.asarray(v, float) for v in net_kw.values()])
    draw, supply = np.maximum(nets, 0.0), np.maximum(-nets, 0.0)
    demand, surplus = draw.sum(axis=0), supply.sum(axis=0)
    shared = np.minimum(demand, surplus)
    got = np.divide(draw * shared, demand, out=np.zeros_like(draw), where=demand > 0)
    gave = np.divide(supply * shared, surplus, out=np.zeros_like(supply), where=surplus > 0)
    buy, sell, inner = (np.asarray(p, float) for p in (import_eur_kwh, export_eur_kwh, internal_eur_kwh))
    cost = step_hours * ((draw - got) @ buy + got @ inner - gave @ inner - (supply - gave) @ sell)
    moved = zip((got.sum(axis=1) * step_hours).tolist(), (gave.sum(axis=1) * step_hours).tolist())
    return dict(zip(net_kw, cost.tolist())), dict(zip(net_kw, moved)), shared * step_hours
