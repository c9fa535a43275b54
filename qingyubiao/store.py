"""Storage interfaces shared by the writers (ingest) and the readers (API, CLI).

Stores are keyed on (series, ts_ms) and idempotent: writing the same reading
twice leaves one row, so a redelivered MQTT message never duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from qingyubiao.batch import Batch, Flag
from qingyubiao.rejects import Reject

ROLLUP_RESOLUTIONS_MS: tuple[int, ...] = (300_000, 3_600_000)  # 5 minutes, 1 hour


class ReadFailed(RuntimeError):
    """The store could not be read: InfluxDB unreachable, or refusing a query. Said as an error, not a traceback."""


@dataclass(frozen=True, slots=True)
class Latest:
    """Newest reading per requested series; ts_ms = -1 and NaN where there is none."""

    ts_ms: NDArray[np.int64]
    value: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class History:
    """One series aggregated into buckets of `step_ms`. Empty buckets are absent (gaps stay gaps)."""

    bucket_ms: NDArray[np.int64]
    count: NDArray[np.int64]
    vmin: NDArray[np.float64]
    vmean: NDArray[np.float64]
    vmax: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ExportRow:
    ts_ms: int
    village: str
    site: str
    device: str
    metric: str
    value: float
    flags: int

    @property
    def out_of_range(self) -> bool:
        """A sensor fault: left out of exports unless asked for. Backfilled readings and ones stamped on
        arrival (devices without a clock) are good data and always exported."""
        return bool(self.flags & Flag.OUT_OF_RANGE)


@dataclass(frozen=True, slots=True)
class UnknownDevice:
    village: str
    device: str
    topic: str
    first_ms: int
    last_ms: int
    count: int


# (village, device, online, ts_ms) from the retained status topic.
DeviceStatus = tuple[str, str, bool, int]


class ReadingWriter(Protocol):
    def write(self, batch: Batch, rejects: Sequence[Reject] = (), statuses: Sequence[DeviceStatus] = ()) -> None:
        """Durably store a batch, its dead letters and status changes before returning."""
        ...


class BatchSink(Protocol):
    """Anything that consumes stored batches (the alert engine)."""

    def handle(self, batch: Batch, now_ms: int) -> object: ...  # what it returns is not used


class ReadingReader(Protocol):
    def latest(self, series: Sequence[int]) -> Latest: ...

    def history(self, series: int, start_ms: int, end_ms: int, step_ms: int) -> History:
        """Valid (not out-of-range) readings of one series in [start, end), per step."""
        ...

    def export(self, start_ms: int | None, end_ms: int | None, series: Sequence[int] | None) -> Iterator[ExportRow]: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


class IngestLog(Protocol):
    def dead_letters(self, limit: int = 100, reason: str | None = None) -> list[Reject]: ...

    def rejection_counts(self) -> dict[str, int]: ...

    def unknown_devices(self) -> list[UnknownDevice]: ...
