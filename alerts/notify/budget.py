"""Request budgets: at most N requests in any rolling minute, per channel target.

A classic token bucket (capacity N, refill N/min) allows up to 2N in a
sliding minute (a full bucket, then the refill); DingTalk blocks a robot for
10 minutes when it sees more than 20, so the budget is a sliding window over
the recorded attempts, seeded from the outbox after a restart.
"""

from __future__ import annotations

from collections import deque

WINDOW_MS = 60_000


class Budget:
    def __init__(self, per_minute: int, sent_ms: list[int] | None = None) -> None:
        self.per_minute = per_minute
        self.sent: deque[int] = deque(sorted(sent_ms or []))

    def _expire(self, now_ms: int) -> None:
        while self.sent and self.sent[0] <= now_ms - WINDOW_MS:
            self.sent.popleft()

    def available(self, now_ms: int) -> int:
        self._expire(now_ms)
        return max(0, self.per_minute - len(self.sent))

    def take(self, now_ms: int) -> bool:
        if self.available(now_ms) <= 0:
            return False
        self.sent.append(now_ms)
        return True
