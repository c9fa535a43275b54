"""Quiet hours: "22:00-06:30" in the village's time zone; a window may cross midnight."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def _hm(text: str) -> time:
    h, m = text.split(":")
    return time(int(h), int(m))


def quiet_until(window: str | None, tz: str, now_ms: int) -> int | None:
    """End of the quiet window `now_ms` falls in (epoch ms), or None when it is not quiet now."""
    if not window:
        return None
    start_s, end_s = window.split("-")
    start, end = _hm(start_s), _hm(end_s)
    if start == end:
        return None
    now = datetime.fromtimestamp(now_ms / 1000, ZoneInfo(tz))
    t = now.timetz().replace(tzinfo=None)
    if start < end:
        inside = start <= t < end
        end_day = now.date()
    else:  # crosses midnight
        inside = t >= start or t < end
        end_day = now.date() + timedelta(days=1) if t >= start else now.date()
    if not inside:
        return None
    end_dt = datetime.combine(end_day, end, tzinfo=ZoneInfo(tz))
    return int(end_dt.timestamp() * 1000)
