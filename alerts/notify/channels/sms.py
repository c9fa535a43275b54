"""SMS through a configurable HTTP gateway (Aliyun, Tencent Cloud or a county operator's).

The request body is `body_template` with {phone}, {text}, {sign_name} and
{template} filled in (each JSON-escaped), POSTed with `Authorization: Bearer
<api_key>`; any 2xx is accepted. One SMS per send: a digest becomes one text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import httpx

from alerts.notify import text
from alerts.notify.channels.base import Outcome, post
from alerts.notify.outbox import Send


def _esc(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)[1:-1]


class SmsChannel:
    name = "sms"
    budget_per_target = True  # each recipient has its own limit
    idempotent = False
    max_items = 3  # SMS are short; more becomes several messages

    def __init__(self, url: str, api_key: str | None, sign_name: str, template: str, body_template: str,
                 client: httpx.Client, phones: Mapping[str, str], per_minute: int = 60,
                 langs: Mapping[str, str] | None = None) -> None:  # fmt: skip
        self.url, self.api_key, self.sign_name, self.template = url, api_key, sign_name, template
        self.body_template, self.client, self.phones, self.per_minute = body_template, client, phones, per_minute
        self.langs = langs or {}  # person -> "en" for those who read English; zh-CN otherwise

    def body(self, send: Send, now_ms: int) -> bytes:
        words = text.render_in(self.langs.get(send.target, "zh"), send.notices, now_ms, send.recovered)
        values = {"phone": self.phones.get(send.target, send.target), "text": words, "sign_name": self.sign_name,
                  "template": self.template}  # fmt: skip
        out = self.body_template
        for k, v in values.items():
            out = out.replace("{" + k + "}", _esc(v))
        return out.encode()

    def deliver(self, send: Send, now_ms: int) -> Outcome:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        outcome, _ = post(self.client, self.url, self.body(send, now_ms), headers)
        return outcome
