"""Readings on a regular grid (sites × slots, NaN where none arrived) to the hourly means the models use.

The sums are `einsum('ij->i')` over the hour's slots: on this layout (six 10-minute slots a row) it is
several times faster than numpy's sum over a short last axis, and faster than a BLAS product with a
column of ones (bench/bench_agronomy.py). It runs on the readings as they are: an hour with a missing
slot comes out NaN, and only the hours with some but not all slots missing (a few percent) are summed
again without their gaps — cheaper than zeroing every NaN first.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


def _row_sums(slots: F64) -> F64:
    return np.einsum("ij->i", slots)


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


def _sums(values: F64, per_hour: int) -> tuple[F64, NDArray[np.uint8]]:
    slots = values.reshape(-1, per_hour)
    total = _row_sums(slots)  # NaN wherever a slot is missing (readings are finite)
    gap = np.isnan(total)
    gaps = int(np.count_nonzero(gap))
    if gaps == 0:
        return total, np.full(total.shape, per_hour, np.uint8)
    if gaps < total.size // 4:  # a few gaps: look at those hours only
        at = np.flatnonzero(gap)
        part = np.take(slots, at, axis=0)  # several times faster than slots[at] here
        missing = np.isnan(part)
        np.copyto(part, 0.0, where=missing)
        total[at] = _row_sums(part)
        seen = np.full(total.shape, per_hour, np.uint8)
        seen[at] = per_hour - _count(missing)
        return total, seen
    # mostly missing (sites without that sensor): count every hour, sum again the partly missing ones
    absent = _count(np.isnan(slots))
    at = np.flatnonzero((absent > 0) & (absent < per_hour))
    if at.size:
        part = np.take(slots, at, axis=0)
        np.copyto(part, 0.0, where=np.isnan(part))
        total[at] = _row_sums(part)
    return total, per_hour - absent


def hourly_mean(values: F64, per_hour: int, min_readings: int = 1) -> F64:
    """Sites × (hours·per_hour) → sites × hours; an hour with fewer than `min_readings` readings is NaN."""
    total, seen = _sums(values, per_hour)
    with np.errstate(invalid="ignore", divide="ignore"):  # an hour without readings: 0 / 0, then NaN anyway
        np.divide(total, seen, out=total)
    if min_readings > 1:
        total[seen < min_readings] = np.nan
    return total.reshape(values.shape[0], -1)


def hourly_sum(values: F64, per_hour: int) -> F64:
    """Rain: the hour's total; NaN when none of its slots has a reading."""
    total, seen = _sums(values, per_hour)
    total[seen == 0] = np.nan
    return total.reshape(values.shape[0], -1)
