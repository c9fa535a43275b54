"""The request budget is a sliding minute: never more than N in any 60 s, also across a restart."""

from __future__ import annotations

from alerts.notify.budget import Budget


def test_no_more_than_n_in_any_rolling_minute() -> None:
    b = Budget(20)
    sent = [t for t in range(0, 300_000, 500) if b.take(t)]  # someone tries every half second for 5 minutes
    for t in sent:
        assert sum(1 for u in sent if t - 60_000 < u <= t) <= 20
    assert len(sent) == 100  # and the budget is used: 20 a minute
    assert sent[:21] == [*range(0, 10_000, 500), 60_000]  # a burst, then nothing until the first one ages out


def test_seeded_from_recorded_attempts_after_a_restart() -> None:
    before = list(range(0, 19_000, 1000))  # 19 attempts in the last minute before the restart
    b = Budget(20, before)
    assert b.available(30_000) == 1 and b.take(30_000) and not b.take(30_001)
    assert b.available(60_000) == 1  # the attempt at 0 has aged out
