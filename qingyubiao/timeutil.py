"""Timestamps on the wire (epoch seconds or RFC 3339) to int64 epoch milliseconds."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

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


# -- times people type (CLI options, API query parameters) ---------------------------

# 1970 .. 2100: anything else is a typo or an attack, and would overflow datetime or SQLite's 64-bit integers
MAX_WHEN_MS = 4_102_444_800_000
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def _number(digits: str) -> int | None:
    """ASCII digits as an int; None for anything else (int() refuses '²', which isdigit() accepts)."""
    if not (digits.isascii() and digits.isdigit()):
        return None
    return int(digits) if len(digits) <= 18 else MAX_WHEN_MS  # no int() of 5000 digits: out of range anyway


def _in_range(ms: int, text: str) -> int:
    if not 0 <= ms < MAX_WHEN_MS:
        raise ValueError(f"时间超出范围 / {text[:40]!r} is out of range: use a time from 1970 to 2099")
    return ms


def parse_when(text: str, tz: ZoneInfo, now_ms: int) -> int:
    """Epoch ms, '2026-11-01' (midnight in `tz`), an RFC 3339 time, or '-24h' / '-7d' / '-30m' → epoch ms.

    Raises ValueError with a message for people (中文 / English).
    """
    text = text.strip()
    if (n := _number(text)) is not None:
        return _in_range(n, text)
    if text.startswith("-") and text[-1:] in _UNIT_MS and (n := _number(text[1:-1])) is not None:
        return _in_range(now_ms - n * _UNIT_MS[text[-1]], text)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"时间格式不对 / cannot read {text[:40]!r}: use epoch ms, 2026-11-01, an RFC 3339 time or -24h"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    try:
        ms = int(dt.timestamp() * 1000)
    except (OverflowError, ValueError):  # year 1 or 9999 shifted by its UTC offset
        ms = -1
    return _in_range(ms, text)
