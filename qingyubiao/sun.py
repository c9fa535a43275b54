"""Where the sun is: elevation at a place and time, vectorized over times.

Day and night are decided by the sun at the village, not by the clock: the
alert core switches between day and night thresholds at sunrise and sunset,
and the simulator drives solar gain with the same elevation. NOAA's
low-precision solar position (accurate to a fraction of a degree), which is
plenty for both.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

_DAY_MS = 86_400_000.0
_J2000_MS = 946_728_000_000.0  # 2000-01-01T12:00:00Z

# The sun's upper limb on the horizon with standard refraction: sunrise and sunset.
HORIZON_DEG = -0.833


def elevation_deg(ts_ms: ArrayLike, lat: float, lon: float) -> NDArray[np.float64]:
    """Solar elevation in degrees above the horizon.

    ts_ms: epoch milliseconds, any shape; lat/lon in degrees (north and east positive).
    Returns an array of the same shape as ts_ms.
    """
    t = np.asarray(ts_ms, dtype=np.float64)
    n = (t - _J2000_MS) / _DAY_MS  # days since J2000
    mean_lon = np.deg2rad((280.460 + 0.9856474 * n) % 360.0)
    anomaly = np.deg2rad((357.528 + 0.9856003 * n) % 360.0)
    ecl_lon = mean_lon + np.deg2rad(1.915) * np.sin(anomaly) + np.deg2rad(0.020) * np.sin(2 * anomaly)
    obliquity = np.deg2rad(23.439 - 0.0000004 * n)
    declination = np.arcsin(np.sin(obliquity) * np.sin(ecl_lon))
    right_asc = np.arctan2(np.cos(obliquity) * np.sin(ecl_lon), np.cos(ecl_lon))
    gmst_h = (18.697374558 + 24.06570982441908 * n) % 24.0
    hour_angle = np.deg2rad(gmst_h * 15.0 + lon) - right_asc
    phi = np.deg2rad(lat)
    sin_el = np.sin(phi) * np.sin(declination) + np.cos(phi) * np.cos(declination) * np.cos(hour_angle)
    return np.asarray(np.rad2deg(np.arcsin(np.clip(sin_el, -1.0, 1.0))), dtype=np.float64)


def is_day(ts_ms: ArrayLike, lat: float, lon: float) -> NDArray[np.bool_]:
    """True where the sun is above the horizon (between sunrise and sunset)."""
    return elevation_deg(ts_ms, lat, lon) > HORIZON_DEG
