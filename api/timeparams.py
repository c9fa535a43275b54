"""Time range query parameters: epoch ms, RFC 3339 / ISO dates, or relative '-24h' / '-7d' / '-30m'."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import HTTPException

from qingyubiao.timeutil import parse_when

MAX_RANGE_MS = 400 * 86_400_000  # the raw retention; longer ranges are a mistake or an attack
MAX_POINTS = 5_000  # per history answer: a phone chart needs a few hundred
AUTO_STEPS_MS = (60_000, 300_000, 900_000, 3_600_000, 10_800_000, 21_600_000, 86_400_000)


def parse_time(text: str, tz: ZoneInfo, now_ms: int, name: str) -> int:
    try:
        return parse_when(text, tz, now_ms)
    except ValueError as e:
        raise HTTPException(400, f"{name}: {e}") from None


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
