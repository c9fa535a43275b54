"""Hourly leaf wetness: measured where a site has a leaf-wetness sensor, estimated from humidity otherwise.

Each hour is WET, DRY or UNKNOWN (no sensor reading that hour). The estimate (docs/agronomy.md): RH at
or above `rh_wet_pct`; at night also an air temperature within `night_dew_margin_c` of the dew point
(leaves under a clear sky are colder than the air); any hour with rain is wet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from agronomy.params import WetnessParams
from qingyubiao.humidity import dew_point_c

WET, DRY, UNKNOWN = 1, 0, -1

F64 = NDArray[np.float64]
I8 = NDArray[np.int8]


def wetness(
    temp_c: F64, rh_pct: F64, leaf_wet_pct: F64, rain_mm: F64, night: NDArray[np.bool_], p: WetnessParams
) -> NDArray[np.int8]:
    """WET / DRY / UNKNOWN per (site, hour); NaN marks an hour without a reading."""
    measured = ~np.isnan(leaf_wet_pct)
    can_estimate = ~(np.isnan(rh_pct) | np.isnan(temp_c))
    with np.errstate(invalid="ignore"):
        rained = rain_mm > 0.0  # NaN compares false
        estimated = rh_pct >= p.rh_wet_pct
        # the dew margin matters only where there is no sensor, at night, when not humid already: worked
        # out for those hours alone
        ask = np.flatnonzero(night & can_estimate & ~(estimated | measured))
        t, rh = temp_c.ravel().take(ask), rh_pct.ravel().take(ask)
        np.put(estimated, ask, t - dew_point_c(t, rh) <= p.night_dew_margin_c)  # flat C-order, any layout
        estimated &= can_estimate
        estimated |= rained
        sensor_wet = leaf_wet_pct >= p.leaf_wet_pct  # NaN (no sensor) compares false
    # boolean steps rather than np.where: several times faster on these arrays
    wet = sensor_wet | (estimated & ~measured)
    unknown = ~(measured | can_estimate | rained)  # never wet: WET − 1 would not happen
    return wet.view(np.int8) - unknown.view(np.int8)  # UNKNOWN = 0 − 1


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


def count_hours(mask: NDArray[np.bool_]) -> NDArray[np.int32]:
    """Hours × sites → the True hours of each site (a day has at most 255 hours)."""
    return mask.view(np.uint8).sum(axis=0, dtype=np.uint8).astype(np.int32)


def wet_periods(run: WetRun, wet: NDArray[np.int8], temp_c: F64) -> tuple[F64, F64]:
    """Hours × sites: the length so far and the temperature sum of the wet period each wet hour belongs
    to (0 in other hours). A period is consecutive wet hours with a temperature; a dry or unknown hour
    ends it; the one running at the end of the day goes on tomorrow (`run` carries it). Hour by hour
    over all sites at once; the outputs are for `classify` and `best_period`."""
    is_wet = (wet == WET) & ~np.isnan(temp_c)
    temps = np.where(is_wet, temp_c, 0.0)
    length, tsum = np.empty_like(temps), np.empty_like(temps)
    hours, total = run.hours, run.temp_sum
    for h in range(temps.shape[0]):
        w = is_wet[h]
        hours = np.multiply(np.add(hours, 1.0, out=length[h]), w, out=length[h])  # a dry hour: back to 0
        total = np.multiply(np.add(total, temps[h], out=tsum[h]), w, out=tsum[h])
    run.hours, run.temp_sum = hours.copy(), total.copy()
    return length, tsum


def classify(length: F64, temp_sum: F64, shortest: float, levels_of: Callable[[F64, F64], NDArray[np.int8]]) -> I8:
    """A model's class (`levels_of(hours, mean °C)`) of every hour of wet periods (hours × sites), worked
    out only for the hours whose period has lasted `shortest` hours, the least any class needs; 0 elsewhere."""
    cells = np.flatnonzero(length >= shortest)
    hours = length.ravel().take(cells)
    out = np.zeros(length.shape, np.int8)
    out.ravel()[cells] = levels_of(hours, temp_sum.ravel().take(cells) / hours)
    return out


def best_period(levels: I8, length: F64, temp_sum: F64) -> tuple[I8, F64, F64]:
    """Hours × sites: each hour's class, its period's length so far and temperature sum. Per site: the
    highest class of the day, and the length and mean temperature of the period behind it — the longest
    at that class, at the first hour it got there (0 and NaN when the class is 0)."""
    level = levels.max(axis=0)
    wet_h, mean = np.zeros(level.shape), np.full(level.shape, np.nan)
    hit = np.flatnonzero(level > 0)  # on most days few sites: the rest need nothing more
    if hit.size:
        key = np.take(levels, hit, axis=1) * 1e6 + np.take(length, hit, axis=1)  # periods are < 1e6 h long
        best = key.max(axis=0)
        pick = np.zeros(hit.size, np.intp)
        for h in range(key.shape[0] - 1, -1, -1):  # the first hour at the best (argmax along axis 0 is slow)
            pick = np.where(key[h] == best, h, pick)
        wet_h[hit] = length[pick, hit]
        mean[hit] = temp_sum[pick, hit] / wet_h[hit]
    return level, wet_h, mean
