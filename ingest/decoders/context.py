"""What decoders write into: the columnar batch being built and the rejects.

Decoders never raise on bad input; every refused message or reading becomes a
Reject with a reason, kept as a dead letter.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

from qingyubiao.batch import BatchBuilder, Flag
from qingyubiao.rejects import Reason, Reject
from qingyubiao.series import DeviceRef, SeriesIndex
from qingyubiao.timeutil import EARLIEST_MS, to_ms


class Deduplicator:
    """Remembers the last `size` message ids (ChirpStack deduplicationId)."""

    def __init__(self, size: int = 100_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def seen(self, key: str) -> bool:
        if key in self._seen:
            self._seen.move_to_end(key)
            return True
        self._seen[key] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return False


class DecodeContext:
    """Per flush: the batch under construction, rejects, and the clock."""

    __slots__ = (
        "builder",
        "dedup",
        "duplicates",
        "index",
        "max_future_ms",
        "max_s",
        "min_s",
        "now_ms",
        "payload",
        "rejects",
        "statuses",
        "topic",
    )

    def __init__(self, index: SeriesIndex, now_ms: int, max_future_s: float, dedup: Deduplicator) -> None:
        self.index = index
        self.now_ms = now_ms
        self.max_future_ms = int(max_future_s * 1000)
        self.dedup = dedup
        self.builder = BatchBuilder()
        self.rejects: list[Reject] = []
        self.statuses: list[tuple[str, str, bool, int]] = []
        self.duplicates = 0
        self.topic = ""
        self.payload = b""
        # Bounds for the fast path: epoch seconds known to be valid need no further checks.
        self.min_s = EARLIEST_MS / 1000
        self.max_s = (now_ms + self.max_future_ms) / 1000

    def start(self, topic: str, payload: bytes) -> None:
        self.topic, self.payload = topic, payload

    def reject(self, reason: Reason, detail: str, village: str | None = None, device: str | None = None) -> None:
        self.rejects.append(Reject(reason, self.topic, detail, self.payload, self.now_ms, village, device))

    def timestamp(self, ts: Any, ref: DeviceRef) -> int | None:
        """Epoch ms of a reading, or None after rejecting it."""
        if ts is None:
            return self.now_ms
        try:
            ms = to_ms(ts)
        except (ValueError, TypeError, OverflowError) as e:
            self.reject(Reason.BAD_TIMESTAMP, str(e), ref.village.id, ref.device.id)
            return None
        if ms < EARLIEST_MS:
            self.reject(Reason.BAD_TIMESTAMP, f"timestamp {ts!r} is before 2000", ref.village.id, ref.device.id)
            return None
        if ms > self.now_ms + self.max_future_ms:
            ahead = (ms - self.now_ms) / 1000
            self.reject(
                Reason.FUTURE_TIMESTAMP, f"timestamp {ts!r} is {ahead:.0f} s ahead", ref.village.id, ref.device.id
            )
            return None
        return ms

    def add_typed(
        self, ref: DeviceRef, ts: float | str | None, m: dict[str, float], bat_v: float | None, flags: int
    ) -> None:
        """Readings already typed by msgspec: finite floats (JSON has no NaN).

        This is the hot path (one call per reading): epoch seconds within bounds
        skip the general timestamp parser, and columns are appended directly.
        """
        if isinstance(ts, float) and self.min_s <= ts <= self.max_s:
            ts_ms = round(ts * 1000)
        else:
            checked = self.timestamp(ts, ref)
            if checked is None:
                return
            ts_ms = checked
            if ts is None:
                flags |= Flag.ARRIVAL_TIME
        if bat_v is not None and "bat_v" in m:  # given twice: one reading, the top-level one wins (as when lenient)
            m, bat_v = {**m, "bat_v": bat_v}, None
        series, b = ref.series, self.builder
        for name, value in m.items():
            s = series.get(name)
            if s is not None:
                b.series.append(s)
                b.ts_ms.append(ts_ms)
                b.value.append(value)
                b.flags.append(flags)
            else:
                self.reject(
                    Reason.UNKNOWN_METRIC,
                    f"metric {name!r} is not configured for this device",
                    ref.village.id,
                    ref.device.id,
                )
        if bat_v is not None:
            b.add(series["bat_v"], ts_ms, bat_v, flags)

    def add_untyped(self, ref: DeviceRef, ts: Any, m: Any, flags: int) -> None:
        """Readings from the lenient path: check every value; keep the good ones."""
        if not isinstance(m, dict):
            self.reject(
                Reason.BAD_SCHEMA,
                f"'m' must be an object of metric: number, got {type(m).__name__}",
                ref.village.id,
                ref.device.id,
            )
            return
        ts_ms = self.timestamp(ts, ref)
        if ts_ms is None:
            return
        if ts is None:
            flags |= Flag.ARRIVAL_TIME
        for name, value in m.items():
            s = ref.series.get(name)
            if s is None:
                self.reject(
                    Reason.UNKNOWN_METRIC,
                    f"metric {name!r} is not configured for this device",
                    ref.village.id,
                    ref.device.id,
                )
            elif isinstance(value, bool) or not isinstance(value, int | float):
                self.reject(Reason.WRONG_TYPE, f"{name} = {value!r} is not a number", ref.village.id, ref.device.id)
            elif not _finite(value):
                self.reject(Reason.NON_FINITE, f"{name} = {_short(value)}", ref.village.id, ref.device.id)
            else:
                self.builder.add(s, ts_ms, float(value), flags)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float range
        return False


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}…({len(text)} characters)"
