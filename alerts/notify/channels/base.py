"""What every channel answers: did it arrive, and is it worth trying again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

from alerts.notify.outbox import Send
from qingyubiao.retry import retry_after_s


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    retry: bool = False  # recoverable: network error, 5xx, 429, robot "too fast"
    detail: str = ""
    retry_after_s: float | None = None  # the receiver asked us to wait at least this long


class Channel(Protocol):
    name: str
    idempotent: bool  # the receiver dedups by our key; if not, a resend after a crash is marked a possible repeat
    budget_per_target: bool  # the budget is per recipient (SMS per phone) or one for the channel (one robot URL)
    max_items: int  # notices per request (digests are split beyond)

    @property
    def per_minute(self) -> int | None:  # request budget, None = unlimited (read-only: a robot's is an int)
        ...

    def deliver(self, send: Send, now_ms: int) -> Outcome: ...


def post(
    client: httpx.Client, url: str, content: bytes, headers: dict[str, str]
) -> tuple[Outcome, httpx.Response | None]:
    """POST and classify transport and HTTP status (2xx ok; 429/5xx/network recoverable; other 4xx not)."""
    try:
        r = client.post(url, content=content, headers={"Content-Type": "application/json; charset=utf-8", **headers})
    except httpx.HTTPError as e:
        return Outcome(False, True, f"{type(e).__name__}: {e}"), None
    if r.status_code == 429 or r.status_code >= 500:
        return Outcome(False, True, f"HTTP {r.status_code}", retry_after_s(r.headers.get("Retry-After"))), r
    if r.status_code >= 400:
        return Outcome(False, False, f"HTTP {r.status_code}: {r.text[:200]}"), r
    return Outcome(True, False, f"HTTP {r.status_code}"), r


def robot_errcode(r: httpx.Response) -> tuple[int, str]:
    """WeCom and DingTalk answer 200 with {"errcode": 0, "errmsg": "ok"}; anything else is a refusal."""
    try:
        body = r.json()
        return int(body.get("errcode", -1)), str(body.get("errmsg", ""))
    except (ValueError, AttributeError):
        return -1, r.text[:200]
