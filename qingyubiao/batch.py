"""Columnar reading batches: (series, ts_ms, value, flags) arrays, no per-reading objects.

Time is int64 milliseconds since the Unix epoch (UTC) everywhere in the system.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag

import numpy as np
from numpy.typing import NDArray


class Flag(IntFlag):
    OUT_OF_RANGE = 1  # outside the metric's physical range: a sensor fault, not a value
    ARRIVAL_TIME = 2  # the device sent no timestamp; the collector's clock was used
    BUFFERED = 4  # came in a buffered array or batch (may be late)


@dataclass(frozen=True, slots=True)
class Batch:
    series: NDArray[np.int32]
    ts_ms: NDArray[np.int64]
    value: NDArray[np.float64]
    flags: NDArray[np.uint16]

    def __len__(self) -> int:
        return int(self.series.shape[0])

    @staticmethod
    def empty() -> Batch:
        return Batch(np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.uint16))

    @staticmethod
    def concat(batches: list[Batch]) -> Batch:
        if not batches:
            return Batch.empty()
        return Batch(
            np.concatenate([b.series for b in batches]),
            np.concatenate([b.ts_ms for b in batches]),
            np.concatenate([b.value for b in batches]),
            np.concatenate([b.flags for b in batches]),
        )

    def take(self, idx: NDArray[np.intp] | NDArray[np.bool_]) -> Batch:
        return Batch(self.series[idx], self.ts_ms[idx], self.value[idx], self.flags[idx])


class BatchBuilder:
    """Accumulates columns as plain lists while messages are decoded."""

    __slots__ = ("flags", "series", "ts_ms", "value")

    def __init__(self) -> None:
        self.series: list[int] = []
        self.ts_ms: list[int] = []
        self.value: list[float] = []
        self.flags: list[int] = []

    def __len__(self) -> int:
        return len(self.series)

    def add(self, series: int, ts_ms: int, value: float, flags: int) -> None:
        self.series.append(series)
        self.ts_ms.append(ts_ms)
        self.value.append(value)
        self.flags.append(flags)

    def build(self, lo: NDArray[np.float64], hi: NDArray[np.float64]) -> Batch:
        """Freeze into arrays and flag values outside [lo, hi] of their series."""
        series = np.array(self.series, dtype=np.int32)
        value = np.array(self.value, dtype=np.float64)
        flags = np.array(self.flags, dtype=np.uint16)
        out = (value < lo[series]) | (value > hi[series])
        flags[out] |= np.uint16(Flag.OUT_OF_RANGE)
        return Batch(series, np.array(self.ts_ms, dtype=np.int64), value, flags)
