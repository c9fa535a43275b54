"""Hourly leaf wetness: measured where a site has a leaf-wetness sensor, estimated from humidity otherwise.

Each hour is WET, DRY or UNKNOWN (no sensor reading that hour). The estimate (docs/agronomy.md): RH at
or above `rh_wet_pct`; at night also an air temperature within `night_dew_margin_c` of the dew point
(leaves under a clear sky are colder than the air); any hour with rain is wet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from agronomy.params import WetnessParams
from qingyubiao.humidity import dew_point_c

WET, DRY, UNKNOWN = 1, 0, -1

F64 = NDArray[np.float64]


def wetness(
    temp_c: F64, rh_pct: F64, leaf_wet_pct: F64, rain_mm: F64, night: NDArray[np.bool_], p: WetnessParams
) -> NDArray[np.int8]:
    """WET / DRY / UNKNOWN per (site, hour); NaN marks an hour without a reading."""
    measured = ~np.isnan(leaf_wet_pct)
    can_estimate = ~np.isnan(rh_pct) & ~np.isnan(temp_c)
    rained = rain_mm > 0.0  # NaN compares false
    with np.errstate(invalid="ignore"):
        humid = rh_pct >= p.rh_wet_pct
        # the dew margin matters only in night hours not humid already: worked out for those alone
        ask = np.flatnonzero(night & ~humid & can_estimate)
        t, rh = temp_c.ravel().take(ask), rh_pct.ravel().take(ask)
        dewy = np.zeros(temp_c.size, dtype=bool)
        dewy[ask] = t - dew_point_c(t, rh) <= p.night_dew_margin_c
        estimated = humid | dewy.reshape(temp_c.shape)
        wet = np.where(measured, leaf_wet_pct >= p.leaf_wet_pct, (can_estimate & estimated) | rained)
    known = measured | can_estimate | rained
    return np.where(known, wet.astype(np.int8), np.int8(UNKNOWN)).astype(np.int8)


@dataclass
class WetRun:
    """The wet period running at the end of the last hour, per site: its hours and their temperature sum."""

    hours: F64
    temp_sum: F64

    @staticmethod
    def empty(n: int) -> WetRun:
        return WetRun(np.zeros(n), np.zeros(n))

    def copy(self) -> WetRun:
        return WetRun(self.hours.copy(), self.temp_sum.copy())


def wet_periods(run: WetRun, wet: NDArray[np.int8], temp_c: F64) -> tuple[F64, F64]:
    """Sites × hours: the length so far and the mean temperature of the wet period each wet hour belongs
    to (0 and NaN in other hours). A period is consecutive wet hours with a temperature; a dry or unknown
    hour ends it; the one running at the end of the day goes on tomorrow (`run` carries it). Hour by
    hour over all sites at once, on hour-major copies (a column of a sites × hours array is strided)."""
    is_wet = ((wet == WET) & ~np.isnan(temp_c)).T.copy()
    temps = np.where(is_wet, temp_c.T, 0.0)
    length, tsum = np.empty_like(temps), np.empty_like(temps)
    hours, total = run.hours, run.temp_sum
    for h in range(temps.shape[0]):
        w = is_wet[h]
        hours = (hours + 1.0) * w  # a dry hour: back to 0
        total = (total + temps[h]) * w
        length[h], tsum[h] = hours, total
    run.hours, run.temp_sum = hours.copy(), total.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = tsum / length  # 0 / 0 outside periods: NaN
    return length.T, mean.T


def best_hour(levels: NDArray[np.int8], length: F64, mean: F64) -> tuple[NDArray[np.int8], F64, F64]:
    """Per site: the highest level of the day's hours, and the length and mean of the longest period at it
    (0 and NaN when the level is 0)."""
    pick = np.argmax(levels.astype(np.int64) * 1_000_000 + length, axis=1)[:, None]
    level = np.take_along_axis(levels, pick, axis=1)[:, 0]
    hit = level > 0
    return (
        level,
        np.where(hit, np.take_along_axis(length, pick, axis=1)[:, 0], 0.0),
        np.where(hit, np.take_along_axis(mean, pick, axis=1)[:, 0], np.nan),
    )
