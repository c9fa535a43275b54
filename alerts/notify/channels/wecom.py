"""WeCom (企业微信) group robot: POST {"msgtype": ...} to .../cgi-bin/webhook/send?key=KEY.

WeCom renders @mentions only in `text` messages (markdown ignores
`mentioned_mobile_list`), and ringing the owner's phone matters more than
bold type: a notice that names people goes as `text` with
`mentioned_mobile_list`; one that names nobody goes as `markdown`.
Limits: 20 requests a minute per robot; text ≤ 2048 bytes, markdown ≤ 4096.
"""

from __future__ import annotations

import json

import httpx

from alerts.notify import text
from alerts.notify.channels.base import Outcome, post, robot_errcode
from alerts.notify.outbox import Send

TOO_FAST = 45009  # "api freq out of limit"
TEXT_MAX_BYTES = 2048


def _fit(s: str, limit: int) -> str:
    data = s.encode()
    return s if len(data) <= limit else data[: limit - 3].decode(errors="ignore") + "…"


class WeComChannel:
    name = "wecom"
    budget_per_target = False  # one robot URL serves every village: one budget
    idempotent = False
    max_items = 8  # keeps a digest under 2048 bytes of text

    def __init__(self, url: str, client: httpx.Client, per_minute: int = 20, lang: str = "zh") -> None:
        self.url, self.client, self.per_minute, self.lang = url, client, per_minute, lang

    def body(self, send: Send, now_ms: int) -> dict[str, object]:
        words = text.render_in(self.lang, send.notices, now_ms, send.recovered)
        mentions = list(dict.fromkeys(p for n in send.notices for p in n.mentions))
        if mentions:
            content = _fit(words, TEXT_MAX_BYTES)
            return {"msgtype": "text", "text": {"content": content, "mentioned_mobile_list": mentions}}
        return {"msgtype": "markdown", "markdown": {"content": _fit(words, 4096)}}

    def deliver(self, send: Send, now_ms: int) -> Outcome:
        body = json.dumps(self.body(send, now_ms), ensure_ascii=False).encode()
        outcome, r = post(self.client, self.url, body, {})
        if not outcome.ok or r is None:
            return outcome
        code, msg = robot_errcode(r)
        if code == 0:
            return outcome
        return Outcome(False, code == TOO_FAST, f"wecom errcode {code}: {msg}", 60.0 if code == TOO_FAST else None)
