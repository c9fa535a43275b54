"""DingTalk (钉钉) custom robot: markdown with `at.atMobiles`, signed URL.

Signing (加签): sign = urlencode(base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))), timestamp in
epoch ms within an hour of DingTalk's clock, appended as `&timestamp=...&sign=...` to the robot URL.
DingTalk blocks a robot for 10 minutes after more than 20 messages in a minute
(errcode 130101), so the dispatcher's budget must never let that happen.
Mentions only ring when the phone number also appears in the text ("@138...").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import quote_plus

import httpx

from alerts.notify import text
from alerts.notify.channels.base import Outcome, post, robot_errcode
from alerts.notify.outbox import Send

TOO_FAST = 130101


def sign(secret: str, timestamp_ms: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(mac))


def signed_url(url: str, secret: str | None, timestamp_ms: int) -> str:
    if not secret:
        return url
    return f"{url}{'&' if '?' in url else '?'}timestamp={timestamp_ms}&sign={sign(secret, timestamp_ms)}"


class DingTalkChannel:
    name = "dingtalk"
    budget_per_target = False  # one robot URL serves every village: one budget
    idempotent = False
    max_items = 10

    def __init__(
        self, url: str, secret: str | None, client: httpx.Client, per_minute: int = 20, lang: str = "zh"
    ) -> None:
        self.url, self.secret, self.client, self.per_minute, self.lang = url, secret, client, per_minute, lang

    def body(self, send: Send, now_ms: int) -> dict[str, object]:
        words = text.render_in(self.lang, send.notices, now_ms, send.recovered)
        mentions = list(dict.fromkeys(p for n in send.notices for p in n.mentions))
        first = send.notices[0]
        what = (first.site_name if self.lang == "zh" else first.site) if len(send.notices) == 1 else None
        title = f"{first.brand} {what or ('汇总' if self.lang == 'zh' else 'digest')}"
        if send.recovered:  # the title is what the phone's notification shows
            title = text.possible_repeat(self.lang) + title
        content = words.replace("\n", "\n\n")  # DingTalk markdown needs blank lines between paragraphs
        if mentions:
            content += "\n\n" + " ".join(f"@{m}" for m in mentions)
        return {"msgtype": "markdown", "markdown": {"title": title, "text": content},
                "at": {"atMobiles": mentions, "isAtAll": False}}  # fmt: skip

    def deliver(self, send: Send, now_ms: int) -> Outcome:
        body = json.dumps(self.body(send, now_ms), ensure_ascii=False).encode()
        outcome, r = post(self.client, signed_url(self.url, self.secret, now_ms), body, {})
        if not outcome.ok or r is None:
            return outcome
        code, msg = robot_errcode(r)
        if code == 0:
            return outcome
        # blocked for 10 minutes: wait that out rather than prolong the block
        return Outcome(False, code == TOO_FAST, f"dingtalk errcode {code}: {msg}", 600.0 if code == TOO_FAST else None)
