"""Marssonina apple blotch (苹果褐斑病, Diplocarpon mali): conidial infection from leaf wetness and temperature.

Lian et al. (2021) measured, in China, the least leaf wetness in which conidia complete infection: 14,
8, 4 and 6 hours at 10, 15, 20 and 25 °C (infection from 5 to 30 °C). A wet period (consecutive wet
hours, carried over midnight, as agronomy.wetness.wet_periods) infects once its hours reach that
duration at its mean temperature (interpolated between the rows; held at the end rows out to 5 and 30 °C):
`moderate`; at `severe_factor` times it, `high`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from numpy.typing import NDArray

from agronomy.params import MarssoninaParams

F64 = NDArray[np.float64]
I8 = NDArray[np.int8]


def hours_needed(mean_c: F64, p: MarssoninaParams) -> F64:
    """Least wet hours for infection at a period's mean temperature; inf outside min_c..max_c."""
    temps = np.array([t for t, _ in p.table], dtype=np.float64)
    hours = np.array([h for _, h in p.table], dtype=np.float64)
    t = np.asarray(mean_c, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        inside = (t >= p.min_c - 1e-9) & (t <= p.max_c + 1e-9)
    return np.where(inside, np.interp(t, temps, hours) - 1e-6, np.inf)  # np.interp holds the end rows


def marssonina_shortest(p: MarssoninaParams) -> float:
    """The fewest wet hours infection needs at any temperature (np.interp stays within the rows)."""
    return min(h for _, h in p.table) - 1e-6


def in_season(start_ms: int, p: MarssoninaParams) -> bool:
    # the day's midday in UTC falls on the village's date for any offset within ±12 h
    return dt.datetime.fromtimestamp(start_ms / 1000 + 43_200, dt.UTC).month in p.months


def marssonina_levels(length: F64, mean: F64, p: MarssoninaParams) -> I8:
    """0 / 1 / 2 for each hour of wet periods `length` hours long at `mean` °C (agronomy.wetness.wet_periods)."""
    ratio = np.where(length > 0, length / hours_needed(np.where(length > 0, mean, -99.0), p), 0.0)
    return ((ratio >= 1.0).view(np.int8) + (ratio >= p.severe_factor)).astype(np.int8)
