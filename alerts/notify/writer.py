"""The seam to the alert core: an AlertWriter that queues notices, then records as before.

Notices are queued *before* the alert store's transaction. A crash between
the two makes the alert core, restored from its previous snapshot, produce
the same transitions again (same episode ids); the outbox's idempotency keys
keep one copy. The other order could lose a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alerts.notify.outbox import Outbox, started_ms
from alerts.notify.routing import Router
from qingyubiao.alerting import AlertWriter, Episode, Silence, Transition


class NotifyingWriter:
    def __init__(self, inner: AlertWriter, outbox: Outbox, router: Router) -> None:
        self.inner, self.outbox, self.router = inner, outbox, router

    def record(
        self, transitions: Sequence[Transition], episodes: Sequence[Episode], snapshot: bytes | None, ts_ms: int
    ) -> None:
        self.queue(transitions, ts_ms)
        self.inner.record(transitions, episodes, snapshot, ts_ms)

    def queue(self, transitions: Sequence[Transition], now_ms: int) -> None:
        for t in transitions:
            if t.pages and (t.state != "resolved" or self.outbox.was_paged(t.episode)):
                self.outbox.enqueue(t, self.router.route(t, t.state, started_ms(t), now_ms), now_ms)
            elif t.state in ("cancelled", "resolved"):
                self.outbox.enqueue(t, [], now_ms)

    def acknowledge(self, episode: str, who: str, ts_ms: int) -> bool:
        ok = self.inner.acknowledge(episode, who, ts_ms)
        if ok:
            self.outbox.mark_acked([episode])
        return ok

    def save_silence(self, silence: Silence) -> None:
        self.inner.save_silence(silence)

    def load_snapshot(self) -> bytes | None:
        return self.inner.load_snapshot()

    def __getattr__(self, name: str) -> Any:  # the reader half (active_episodes, ...) passes through
        return getattr(self.inner, name)
