"""Settling a day's grid exchange at a tariff (pure functions of arrays)."""

from __future__ import annotations

import numpy as np


def energy_cost_eur(import_kwh: np.ndarray, export_kwh: np.ndarray,
                    import_price_eur_kwh: np.ndarray, export_price_eur_kwh: np.ndarray) -> float:
    """Import cost minus export revenue, EUR. All arrays have one value per step."""
    return float(np.dot(import_kwh, import_price_eur_kwh) - np.dot(export_kwh, export_price_eur_kwh))
