"""Readings on a regular grid (sites × slots, NaN where none arrived) to the hourly means the models use.

The sums are a matrix product with a column of ones: numpy's reductions over a short last axis (six
10-minute slots) are several times slower than BLAS on this layout (bench/bench_agronomy.py). The
product runs on the readings as they are: an hour with a missing slot comes out NaN, and only the hours
with some but not all slots missing (a few percent) are summed again without their gaps — cheaper than
zeroing every NaN first.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


def _count(mask: NDArray[np.bool_]) -> NDArray[np.uint8]:
    return mask.view(np.uint8) @ np.ones(mask.shape[1], np.uint8)


def _sums(values: F64, per_hour: int) -> tuple[F64, NDArray[np.uint8]]:
    slots = values.reshape(-1, per_hour)
    total = slots @ np.ones(per_hour)  # NaN wherever a slot is missing (readings are finite)
    gap = np.isnan(total)
    gaps = int(np.count_nonzero(gap))
    if gaps == 0:
        return total, np.full(total.shape, per_hour, np.uint8)
    if gaps < total.size // 4:  # a few gaps: look at those hours only
        at = np.flatnonzero(gap)
        part = np.take(slots, at, axis=0)  # several times faster than slots[at] here
        missing = np.isnan(part)
        total[at] = np.where(missing, 0.0, part) @ np.ones(per_hour)
        seen = np.full(total.shape, per_hour, np.uint8)
        seen[at] = per_hour - _count(missing)
        return total, seen
    # mostly missing (sites without that sensor): count every hour, sum again the partly missing ones
    absent = _count(np.isnan(slots))
    at = np.flatnonzero((absent > 0) & (absent < per_hour))
    if at.size:
        part = np.take(slots, at, axis=0)
        total[at] = np.where(np.isnan(part), 0.0, part) @ np.ones(per_hour)
    return total, per_hour - absent


def hourly_mean(values: F64, per_hour: int, min_readings: int = 1) -> F64:
    """Sites × (hours·per_hour) → sites × hours; an hour with fewer than `min_readings` readings is NaN."""
    total, seen = _sums(values, per_hour)
    with np.errstate(invalid="ignore", divide="ignore"):  # an hour without readings: 0 / 0, then NaN anyway
        out = np.where(seen >= min_readings, total / seen, np.nan)
    return out.reshape(values.shape[0], -1)


def hourly_sum(values: F64, per_hour: int) -> F64:
    """Rain: the hour's total; NaN when none of its slots has a reading."""
    total, seen = _sums(values, per_hour)
    return np.where(seen > 0, total, np.nan).reshape(values.shape[0], -1)
