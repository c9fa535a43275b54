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
    rained = np.nan_to_num(rain_mm, nan=0.0) > 0.0
    with np.errstate(invalid="ignore"):
        margin = temp_c - dew_point_c(temp_c, rh_pct)
        estimated = (rh_pct >= p.rh_wet_pct) | (night & (margin <= p.night_dew_margin_c))
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
    hour ends it; the one running at the end of the day goes on tomorrow (`run` carries it). Cumulative
    sums reset at each break, so every hour is computed at once."""
    n, hours = wet.shape
    is_wet = (wet == WET) & ~np.isnan(temp_c)
    idx = np.arange(1, hours + 1)
    # the last hour (1-based) up to each hour that broke the period; 0: none today, the carried run goes on
    last_break = np.maximum.accumulate(np.where(is_wet, 0, idx), axis=1)
    carried = last_break == 0
    cum = np.concatenate([np.zeros((n, 1)), np.cumsum(np.where(is_wet, temp_c, 0.0), axis=1)], axis=1)
    at_break = np.take_along_axis(cum, last_break, axis=1)
    length = np.where(is_wet, idx - last_break + np.where(carried, run.hours[:, None], 0.0), 0.0)
    tsum = np.where(is_wet, cum[:, 1:] - at_break + np.where(carried, run.temp_sum[:, None], 0.0), 0.0)
    run.hours, run.temp_sum = length[:, -1].copy(), tsum[:, -1].copy()
    return length, np.where(length > 0, tsum / np.maximum(length, 1.0), np.nan)


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
