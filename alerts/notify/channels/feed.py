"""The phone page's live stream: notices land in `notify_feed`, which the API's SSE route polls by id.

Same database, so delivery is one INSERT keyed on the notice's idempotency
key: a retry after a restart cannot add a second row. The text is the bare
sentence (`text.line`): the page shows its village itself, and the ack link
has its own column (the page acknowledges through the API).
"""

from __future__ import annotations

from alerts.notify import text
from alerts.notify.channels.base import Outcome
from alerts.notify.outbox import Outbox, Send


class FeedChannel:
    name = "feed"
    budget_per_target = True  # each recipient has its own limit
    idempotent = True
    per_minute: int | None = None
    max_items = 100

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def deliver(self, send: Send, now_ms: int) -> Outcome:
        self.outbox.add_feed(send.notices, [text.line(n, now_ms) for n in send.notices])
        return Outcome(True, False, f"{len(send.notices)} feed events")
