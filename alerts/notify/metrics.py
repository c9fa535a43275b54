"""Prometheus metrics of the notification outbox, on the collector's registry (`ingest.metrics.IngestMetrics`).

`qyb_notify_messages{status}` is refreshed from the outbox by the dispatcher (`Outbox.status_counts`), so
it tells what is waiting, retrying or failed even across restarts; `qyb_notify_failed_attempts_total{channel}`
counts the refused or unanswered tries of this process.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge

from alerts.notify.outbox import Outbox

# Always exported (0 when none), so an alert rule on e.g. failed > 0 has a series to look at.
STATUSES = ("queued", "sending", "retry", "sent", "failed")


class NotifyMetrics:
    def __init__(self, registry: CollectorRegistry, channels: Iterable[str] = ()) -> None:
        self.messages = Gauge(
            "qyb_notify_messages", "Notification messages in the outbox, by status", ["status"], registry=registry
        )
        self.failed_attempts = Counter(
            "qyb_notify_failed_attempts",
            "Delivery attempts that failed (refused, error answer, no answer), by channel",
            ["channel"],
            registry=registry,
        )
        for name in channels:  # a series from the start, so rate() sees the first failure
            self.failed_attempts.labels(name)
        self._statuses = set(STATUSES)
        for status in STATUSES:
            self.messages.labels(status).set(0)

    def observe(self, outbox: Outbox) -> None:
        counts = outbox.status_counts()
        self._statuses |= counts.keys()  # a status seen once goes back to 0, not stale, when it empties
        for status in self._statuses:
            self.messages.labels(status).set(counts.get(status, 0))
