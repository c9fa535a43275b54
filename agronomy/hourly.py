"""Readings on a regular grid (sites × slots, NaN where none arrived) to the hourly means the models use.

The sums are a matrix product with a column of ones: numpy's reductions over a short last axis (six
10-minute slots) are several times slower than BLAS on this layout (bench/bench_agronomy.py).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


def _sums(values: F64, per_hour: int) -> tuple[F64, NDArray[np.uint8]]:
    slots = values.reshape(-1, per_hour)
    missing = np.isnan(slots)
    total = np.where(missing, 0.0, slots) @ np.ones(per_hour)
    seen = (~missing).view(np.uint8) @ np.ones(per_hour, np.uint8)
    return total, seen


def hourly_mean(values: F64, per_hour: int, min_readings: int = 1) -> F64:
    """Sites × (hours·per_hour) → sites × hours; an hour with fewer than `min_readings` readings is NaN."""
    total, seen = _sums(values, per_hour)
    out = np.where(seen >= min_readings, total / np.maximum(seen, 1), np.nan)
    return out.reshape(values.shape[0], -1)


def hourly_sum(values: F64, per_hour: int) -> F64:
    """Rain: the hour's total; NaN when none of its slots has a reading."""
    total, seen = _sums(values, per_hour)
    return np.where(seen > 0, total, np.nan).reshape(values.shape[0], -1)
