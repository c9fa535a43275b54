"""Village app (数字乡村) webhook: one JSON event per send, signed.

Headers: `X-Qyb-Timestamp` (epoch ms), `X-Qyb-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`
and `Idempotency-Key` (same on every retry). The app rejects stale timestamps
(replays) and dedups on the key, so delivery to it is at-least-once with
exactly-once effect.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

import httpx

from alerts.notify import text
from alerts.notify.channels.base import Outcome, post
from alerts.notify.outbox import Send
from alerts.text import metric_names


def signature(secret: str, timestamp_ms: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp_ms).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookChannel:
    name = "webhook"
    budget_per_target = True  # each recipient has its own limit
    idempotent = True
    per_minute: int | None = None
    max_items = 50

    def __init__(self, url: str, secret: str, client: httpx.Client, people: Mapping[str, tuple[str, str]]) -> None:
        self.url, self.secret, self.client = url, secret, client
        self.people = people  # person id -> (name, phone)

    def body(self, send: Send, now_ms: int) -> bytes:
        events = []
        for n in send.notices:
            zh, en = text.single(n, now_ms)
            events.append({
                "key": n.key, "episode": n.episode, "state": n.state, "kind": n.kind, "severity": n.severity,
                "village": n.village, "site": n.site, "site_name": n.site_name, "device": n.device,
                "metric": n.metric, "unit": metric_names(n.metric)[2], "value": n.value, "threshold": n.threshold,
                "started_ms": n.started_ms, "ts_ms": n.ts_ms, "text_zh": zh, "text_en": en, "ack_url": n.ack_url,
                "recipients": [{"person": p, "name": self.people.get(p, ("", ""))[0],
                                "phone": self.people.get(p, ("", ""))[1]} for p in n.people],
            })  # fmt: skip
        doc = {"version": 1, "id": send.key, "village": send.target, "sent_ms": now_ms, "events": events}
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()

    def deliver(self, send: Send, now_ms: int) -> Outcome:
        body = self.body(send, now_ms)
        headers = {
            "X-Qyb-Timestamp": str(now_ms),
            "X-Qyb-Signature": signature(self.secret, now_ms, body),
            "Idempotency-Key": send.key,
        }
        outcome, _ = post(self.client, self.url, body, headers)
        return outcome
