"""Humidity from air temperature (°C) and relative humidity (%), vectorized: used by the alert core (VPD,
dew point) and the agronomy models (wetness).

FAO-56 Eq. 11 (Tetens) saturation vapour pressure es(T) = 0.6108·exp(17.27·T/(T+237.3)) kPa;
VPD = es(T)·(1 − RH/100); dew point from the inverse of the same Magnus form.
Check values: es(15 °C) = 1.705 kPa; at 25 °C and 60 % RH the VPD is 1.27 kPa.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

A, B = 17.27, 237.3


def saturation_kpa(t_c: NDArray[np.float64]) -> NDArray[np.float64]:
    """es(T) in kPa, T in °C (any shape)."""
    return 0.6108 * np.exp(A * t_c / (t_c + B))


def vpd_kpa(t_c: NDArray[np.float64], rh_pct: NDArray[np.float64]) -> NDArray[np.float64]:
    """Air vapour pressure deficit in kPa."""
    return saturation_kpa(t_c) * (1.0 - rh_pct / 100.0)


def dew_point_c(t_c: NDArray[np.float64], rh_pct: NDArray[np.float64]) -> NDArray[np.float64]:
    """Dew point in °C; RH is clipped to ≥ 0.1 % so the logarithm stays finite."""
    g = np.log(np.maximum(rh_pct, 0.1) / 100.0) + A * t_c / (t_c + B)
    return B * g / (A - g)
