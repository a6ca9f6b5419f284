"""Sun elevation, for telling night hours from day hours (NOAA approximation).

Accurate to a fraction of a degree, which is plenty for deciding whether a PV
meter may have produced anything in an hour.
"""

from __future__ import annotations

import numpy as np


def sun_elevation_deg(utc: np.ndarray, latitude_deg: float, longitude_deg: float) -> np.ndarray:
    """Solar elevation angle in degrees at the UTC instants ``utc`` (datetime64)."""
    utc = np.asarray(utc, dtype="datetime64[s]")
    year_start = utc.astype("datetime64[Y]").astype("datetime64[s]")
    seconds = (utc - year_start).astype(np.float64)
    day_of_year = seconds // 86400.0
    hour = (seconds % 86400.0) / 3600.0
    gamma = 2.0 * np.pi / 365.0 * (day_of_year + (hour - 12.0) / 24.0)
    declination = (
        0.006918 - 0.399912 * np.cos(gamma) + 0.070257 * np.sin(gamma)
        - 0.006758 * np.cos(2 * gamma) + 0.000907 * np.sin(2 * gamma)
        - 0.002697 * np.cos(3 * gamma) + 0.00148 * np.sin(3 * gamma)
    )
    equation_of_time_min = 229.18 * (
        0.000075 + 0.001868 * np.cos(gamma) - 0.032077 * np.sin(gamma)
        - 0.014615 * np.cos(2 * gamma) - 0.040849 * np.sin(2 * gamma)
    )
    true_solar_min = hour * 60.0 + equation_of_time_min + 4.0 * longitude_deg
    hour_angle = np.radians(true_solar_min / 4.0 - 180.0)
    lat = np.radians(latitude_deg)
    cos_zenith = np.sin(lat) * np.sin(declination) + np.cos(lat) * np.cos(declination) * np.cos(hour_angle)
    return 90.0 - np.degrees(np.arccos(np.clip(cos_zenith, -1.0, 1.0)))


def night_hours(utc_hour_start: np.ndarray, latitude_deg: float, longitude_deg: float, below_deg: float) -> np.ndarray:
    """True for hours [t, t+1h) whose sun elevation stays below ``below_deg`` throughout.

    The elevation is sampled every 15 minutes; between samples it varies too
    little to cross a threshold and come back.
    """
    start = np.asarray(utc_hour_start, dtype="datetime64[s]")
    samples = [sun_elevation_deg(start + np.timedelta64(m * 60, "s"), latitude_deg, longitude_deg) for m in range(0, 61, 15)]
    return np.max(np.stack(samples), axis=0) < below_deg
