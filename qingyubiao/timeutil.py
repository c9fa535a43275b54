"""Timestamps on the wire (epoch seconds or RFC 3339) to int64 epoch milliseconds."""

from __future__ import annotations

import math
from datetime import UTC, datetime

# Numbers this large cannot be epoch seconds (year 5138): devices that send
# milliseconds are common enough to accept them.
_MS_THRESHOLD = 1e11
EARLIEST_MS = 946_684_800_000  # 2000-01-01: anything older is a clock that was never set


def to_ms(ts: float | str) -> int:
    """Epoch seconds (or ms), or an RFC 3339 string, to epoch milliseconds.

    >>> to_ms(1763800000.25)
    1763800000250
    >>> to_ms("2025-11-22T08:26:40Z")
    1763800000000

    Raises ValueError for anything else.
    """
    if isinstance(ts, str):
        dt = datetime.fromisoformat(ts.upper())  # RFC 3339 allows a lower-case 't' and 'z'
        if dt.tzinfo is None:
            raise ValueError(f"timestamp {ts!r} has no time zone")
        return round(dt.timestamp() * 1000)
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
        raise ValueError(f"timestamp {ts!r} is not a number or RFC 3339 string")
    return round(ts if ts >= _MS_THRESHOLD else ts * 1000)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")
