"""Degree-days by the single-sine method with a horizontal upper cutoff (UC IPM; Zalom et al. 1983).

The day's temperature is taken as a sine between its minimum and maximum; the degree-days are the area
of that curve between the lower and upper thresholds, the part above the upper one counted as the
upper threshold (the cutoff is horizontal). The closed forms are those of Zalom, Goodell, Wilson,
Barnett & Bentley (1983), "Degree-days: the calculation and use of heat units in pest management",
UC DANR Leaflet 21373, as the UC IPM degree-day calculator uses them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]


def single_sine(tmin: ArrayLike, tmax: ArrayLike, lower: float, upper: float) -> F64:
    """Degree-days (°C·day) for daily minima and maxima of any shape; NaN where either is NaN."""
    lo = np.asarray(tmin, dtype=np.float64)
    hi = np.asarray(tmax, dtype=np.float64)
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    mean = (hi + lo) / 2.0
    amp = (hi - lo) / 2.0
    safe_amp = np.where(amp > 0, amp, 1.0)
    with np.errstate(invalid="ignore"):
        th1 = np.arcsin(np.clip((lower - mean) / safe_amp, -1.0, 1.0))  # where the curve crosses `lower`
        th2 = np.arcsin(np.clip((upper - mean) / safe_amp, -1.0, 1.0))  # and `upper`
    half_pi = np.pi / 2.0
    # the cases of Zalom et al. (1983); the clipped angles make one formula cover them all:
    # th1 = -pi/2 when the minimum is above `lower`, th2 = pi/2 when the maximum is below `upper`
    dd = ((mean - lower) * (th2 - th1) + amp * (np.cos(th1) - np.cos(th2)) + (upper - lower) * (half_pi - th2)) / np.pi
    dd = np.where(hi <= lower, 0.0, dd)
    dd = np.where(lo >= upper, upper - lower, dd)
    return np.where(np.isnan(lo) | np.isnan(hi), np.nan, np.maximum(dd, 0.0))


def days_to(remaining_dd: ArrayLike, recent_dd_per_day: ArrayLike) -> F64:
    """Days until `remaining_dd` more accumulate at the recent daily rate (inf when nothing accumulates)."""
    rem = np.asarray(remaining_dd, dtype=np.float64)
    rate = np.asarray(recent_dd_per_day, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rem <= 0, 0.0, np.where(rate > 0, np.ceil(rem / np.where(rate > 0, rate, 1.0)), np.inf))
