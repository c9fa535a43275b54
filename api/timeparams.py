"""Time range query parameters: epoch ms, RFC 3339 / ISO dates, or relative '-24h' / '-7d' / '-30m'."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import HTTPException

MAX_RANGE_MS = 400 * 86_400_000  # the raw retention; longer ranges are a mistake or an attack
MAX_POINTS = 5_000  # per history answer: a phone chart needs a few hundred
AUTO_STEPS_MS = (60_000, 300_000, 900_000, 3_600_000, 10_800_000, 21_600_000, 86_400_000)
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}
# 1970 .. 2100: anything else is a typo or an attack, and would overflow datetime or SQLite's 64-bit integers
MAX_TIME_MS = 4_102_444_800_000


def _number(digits: str) -> int | None:
    """ASCII digits as an int; None for anything else (int() refuses '²', which isdigit() accepts)."""
    if not (digits.isascii() and digits.isdigit()):
        return None
    return int(digits) if len(digits) <= 18 else MAX_TIME_MS  # no int() of 5000 digits: out of range anyway


def _in_range(ms: int, text: str, name: str) -> int:
    if not 0 <= ms < MAX_TIME_MS:
        raise HTTPException(400, f"{name}: 时间超出范围 / {text[:40]!r} is out of range: use a time from 1970 to 2099")
    return ms


def parse_time(text: str, tz: ZoneInfo, now_ms: int, name: str) -> int:
    text = text.strip()
    if (n := _number(text)) is not None:
        return _in_range(n, text, name)
    if text.startswith("-") and text[-1:] in _UNIT_MS and (n := _number(text[1:-1])) is not None:
        return _in_range(now_ms - n * _UNIT_MS[text[-1]], text, name)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise HTTPException(
            400,
            f"{name}: 时间格式不对 / cannot read {text[:40]!r}: use epoch ms, 2026-11-01, an RFC 3339 time or -24h",
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    try:
        ms = int(dt.timestamp() * 1000)
    except (OverflowError, ValueError):  # year 1 or 9999 shifted by its UTC offset
        ms = -1
    return _in_range(ms, text, name)


def time_range(
    start: str | None, end: str | None, tz: ZoneInfo, now_ms: int, default_ms: int = 86_400_000
) -> tuple[int, int]:
    """[start, end) in epoch ms; end defaults to now, start to `default_ms` before end."""
    end_ms = parse_time(end, tz, now_ms, "end") if end else now_ms
    start_ms = parse_time(start, tz, now_ms, "start") if start else end_ms - default_ms
    if end_ms <= start_ms:
        raise HTTPException(400, "时间范围不对：开始必须早于结束 / bad range: start must be before end")
    if end_ms - start_ms > MAX_RANGE_MS:
        raise HTTPException(400, f"时间范围太长 / range too long: at most {MAX_RANGE_MS // 86_400_000} days")
    return start_ms, end_ms


def pick_step(start_ms: int, end_ms: int, step_ms: int | None, target_points: int = 500) -> int:
    span = end_ms - start_ms
    if step_ms is None:
        return next((s for s in AUTO_STEPS_MS if span / s <= target_points), AUTO_STEPS_MS[-1])
    if step_ms < 1_000:
        raise HTTPException(400, "步长至少 1 秒 / step must be at least 1000 ms")
    if step_ms > MAX_RANGE_MS:  # a bigger bucket than any allowed range; and a huge one overflows SQLite
        raise HTTPException(400, f"步长太大 / step too large: at most {MAX_RANGE_MS} ms (400 days)")
    if span / step_ms > MAX_POINTS:
        raise HTTPException(
            400, f"查询太大 / query too large: {span // step_ms} points, at most {MAX_POINTS}; use a larger step"
        )
    return step_ms
