"""Test readings: distinct (series, ts) in columnar batches, with some out of physical range."""

from __future__ import annotations

import numpy as np

from qingyubiao.batch import Batch, Flag
from qingyubiao.series import SeriesIndex

T0_MS = 1_763_800_000_000  # 2025-11-22, inside every retention the test servers use


def batches(
    index: SeriesIndex, count: int, per_batch: int, t0_ms: int = T0_MS, seed: int = 1, spacing_ms: int = 1_000
) -> list[Batch]:
    """`count` batches of `per_batch` readings; every (series, ts) occurs once over all batches."""
    rng = np.random.default_rng(seed)
    n_series = len(index)
    out = []
    for b in range(count):
        k = np.arange(b * per_batch, (b + 1) * per_batch, dtype=np.int64)
        series = (k % n_series).astype(np.int32)
        ts = t0_ms + (k // n_series) * spacing_ms + 7 * (k % 13)  # one reading per series and `spacing_ms`
        value = np.round(rng.uniform(index.lo[series].clip(-20), index.hi[series].clip(None, 120)), 2)
        flags = np.zeros(per_batch, np.uint16)
        bad = rng.random(per_batch) < 0.02
        value[bad] = index.hi[series[bad]] + 1  # physically impossible: stored, flagged
        flags[bad] = Flag.OUT_OF_RANGE
        out.append(Batch(series, ts, value, flags))
    return out
