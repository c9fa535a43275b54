"""Readings on a regular grid (sites × slots, NaN where none arrived) to the hourly means the models use.

The sums are `einsum('ij->i')` over the hour's slots: on this layout (six 10-minute slots a row) it is
several times faster than numpy's sum over a short last axis, and faster than a BLAS product with a
column of ones (bench/bench_agronomy.py). It runs on the readings as they are: an hour with a missing
slot comes out NaN, and only the hours with some but not all slots missing (a few percent) are summed
again without their gaps — cheaper than zeroing every NaN first. The readings are taken a block of
hours at a time, and each block is finished (summed again where it has gaps, divided) while it is still
in the cache, instead of reading the whole array from memory a second time.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
BLOCK = 65_536  # hours a pass (six 10-minute slots: 3 MB of readings)


def _row_sums(slots: F64, out: F64 | None = None) -> F64:
    return np.einsum("ij->i", slots, out=out)


def _count(mask: NDArray[np.bool_]) -> NDArray[np.uint8]:
    """True cells per row (rows of at most 255)."""
    if mask.shape[1] % 2 == 0 and mask.flags.c_contiguous:
        # two cells per uint16 (each byte 0 or 1): half the columns to add, no byte can carry over
        pairs = mask.view(np.uint16)
        acc = pairs[:, 0].copy()
        for j in range(1, pairs.shape[1]):
            acc += pairs[:, j]
        return ((acc & 0xFF) + (acc >> 8)).astype(np.uint8)
    return mask.view(np.uint8) @ np.ones(mask.shape[1], np.uint8)


def _without_gaps(slots: F64, rows: NDArray[np.intp], mean: bool, min_readings: int) -> F64:
    """These rows' hours from the readings they have: the mean or sum, NaN with fewer than `min_readings`."""
    part = np.take(slots, rows, axis=0)  # several times faster than slots[rows] here
    missing = np.isnan(part)
    np.putmask(part, missing, 0.0)  # faster than copyto(where=) or a boolean assignment
    count = slots.shape[1] - _count(missing)
    with np.errstate(invalid="ignore", divide="ignore"):  # an hour without readings: 0 / 0, NaN anyway
        out = _row_sums(part) / count if mean else _row_sums(part)
    out[count < max(min_readings, 1)] = np.nan
    return out


def _hourly(values: F64, per_hour: int, mean: bool, min_readings: int = 1) -> F64:
    """Each hour's mean (or sum) of the readings it has, NaN for an hour with fewer than `min_readings`."""
    slots = values.reshape(-1, per_hour)
    out = np.empty(slots.shape[0])
    for start in range(0, slots.shape[0], BLOCK):
        block = slots[start : start + BLOCK]
        hours = _row_sums(block, out=out[start : start + BLOCK])  # NaN wherever a slot is missing
        if mean:
            hours /= per_hour
        if min_readings > per_hour:
            hours.fill(np.nan)
        gaps = np.flatnonzero(np.isnan(hours))
        if gaps.size == 0:  # every hour has every slot
            continue
        if gaps.size < hours.size // 4:  # a few gaps: those hours again from the readings they have
            hours[gaps] = _without_gaps(block, gaps, mean, min_readings)
            continue
        # mostly missing (sites without that sensor): count every hour, the partly missing ones again
        count = per_hour - _count(np.isnan(block))
        partly = np.flatnonzero((count > 0) & (count < per_hour))
        if partly.size:
            hours[partly] = _without_gaps(block, partly, mean, min_readings)
    return out.reshape(values.shape[0], -1)


def hourly_mean(values: F64, per_hour: int, min_readings: int = 1) -> F64:
    """Sites × (hours·per_hour) → sites × hours; an hour with fewer than `min_readings` readings is NaN."""
    return _hourly(values, per_hour, True, min_readings)


def hourly_sum(values: F64, per_hour: int) -> F64:
    """Rain: the hour's total; NaN when none of its slots has a reading."""
    return _hourly(values, per_hour, False)
