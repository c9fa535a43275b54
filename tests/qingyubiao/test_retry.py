"""Backoff and Retry-After (qingyubiao/retry.py), as the forwarder, `qyb store migrate` and the
dispatcher use them. Retry-After's two forms are RFC 9110 section 10.2.3's own examples."""

from __future__ import annotations

import random
from email.utils import format_datetime, parsedate_to_datetime

import pytest

from qingyubiao.retry import backoff_s, retry_after_s

NOW = parsedate_to_datetime("Fri, 31 Dec 1999 23:58:00 GMT").timestamp()


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_s("120") == 120.0
    assert retry_after_s("Fri, 31 Dec 1999 23:59:59 GMT", now_s=NOW) == 119.0  # the RFC's example date
    assert retry_after_s("Fri, 31 Dec 1999 23:00:00 GMT", now_s=NOW) == 0.0  # already past: go now
    for unreadable in (None, "", "soon", "-5", "1.5", "Fri, 31 Dec 1999 23:59:59"):  # no zone: not an HTTP-date
        assert retry_after_s(unreadable, now_s=NOW) is None, unreadable
    # what an httpx or urllib3 response header holds for a date a minute ahead
    assert retry_after_s(format_datetime(parsedate_to_datetime("Sat, 01 Jan 2000 00:00:00 GMT"), usegmt=True),
                         now_s=NOW) == 120.0  # fmt: skip


@pytest.mark.parametrize("attempt, full", [(1, 5.0), (2, 10.0), (3, 20.0), (8, 600.0), (100, 600.0)])
def test_backoff_doubles_to_its_cap_with_equal_jitter(attempt: int, full: float) -> None:
    rng = random.Random(7)
    waits = [backoff_s(attempt, 5.0, 600.0, rng=rng) for _ in range(2000)]
    assert full / 2 <= min(waits) and max(waits) <= full  # between half and all of it
    assert max(waits) - min(waits) > full * 0.45  # spread out, so many collectors do not retry in step


def test_retry_after_is_a_floor_up_to_the_cap() -> None:
    assert backoff_s(1, 5.0, 600.0, retry_after=120.0) == 120.0
    assert backoff_s(1, 5.0, 600.0, retry_after=86_400.0) == 600.0  # a server cannot park us for a day
    assert 2.5 <= backoff_s(1, 5.0, 600.0, retry_after=0.0) <= 5.0
