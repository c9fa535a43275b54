"""One way to wait before trying again: exponential backoff with jitter, and what `Retry-After` asks.

Used by the InfluxDB forwarder, `qyb store migrate` and the notification dispatcher.
"""

from __future__ import annotations

import email.utils
import random
import time

JITTER = 0.5  # "equal jitter": wait between half and all of the backoff, so many clients do not retry in step


def retry_after_s(header: str | None, now_s: float | None = None) -> float | None:
    """The wait a `Retry-After` header asks for, in seconds: delay-seconds or an HTTP-date (RFC 9110
    section 10.2.3). None when absent or unreadable; a date in the past is 0."""
    if not header:
        return None
    value = header.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT; a date without a zone is not one
        return None
    return max(0.0, when.timestamp() - (time.time() if now_s is None else now_s))


def backoff_s(
    attempt: int,
    initial_s: float,
    max_s: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before try number `attempt + 1` (attempt 1 = the first failure): initial × 2^(attempt-1),
    capped at max, with equal jitter; at least what the server asked for in Retry-After, up to max (a
    server cannot park us for a day)."""
    delay = min(max_s, initial_s * 2.0 ** min(max(attempt - 1, 0), 30))
    delay *= 1 - JITTER * (rng or random).random()
    if retry_after is not None:
        delay = max(delay, min(retry_after, max_s))
    return delay
