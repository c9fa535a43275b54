"""What the read side (API, phone page) needs from notifications, without importing `alerts`.

- `NotificationFeed`: the per-person event feed the live stream (SSE) polls.
  The dispatcher in `alerts/notify/` writes it; the API reads it by cursor.
- One-tap acknowledge links: `sign_ack_token` / `verify_ack_token`. A token
  names a short reference (one alert episode for one person, or for a group
  message the people it names), an expiry and an HMAC-SHA256 over both, so the
  API can check it with the shared secret and `AckRefs.resolve` it to the
  episode, no login needed.

Token format: ``{ref}.{expiry, epoch seconds in base 36}.{signature}``, with
the signature the first 16 bytes of HMAC-SHA256(secret, "ref.expiry") in
unpadded base64url: about 40 characters, short enough for an SMS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

# the person of a group reference: whoever taps says who they are among `AckRef.people`
GROUP = "*"
# a 确认灌溉 link (api/routes/confirm_link.py) signs its ack reference with this prefix: the same
# registered reference, a token that cannot be used as an acknowledgement, nor an ack token as a confirmation
CONFIRM = "w-"


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One notification for one person, as the phone page shows it.

    `id` increases monotonically: a stream resumes with `events_since(last id)`.
    `key` is the outbox idempotency key (episode, state, person, channel).
    """

    id: int
    key: str
    person: str
    village: str
    site: str
    episode: str
    state: str  # firing | resolved | repeat | escalation | digest
    severity: str
    ts_ms: int
    text_zh: str
    text_en: str
    ack_url: str | None


class NotificationFeed(Protocol):
    def events_since(
        self, after_id: int, person: str | None = None, limit: int = 100, village: str | None = None
    ) -> list[FeedEvent]:
        """Feed events with id > after_id, oldest first (all people when `person` is None, all villages when
        `village` is None: person ids such as "secretary" repeat across villages)."""
        ...

    def newest_id(self) -> int:
        """The id of the newest event of anyone (0 when none): where a new stream starts, so it replays nothing."""
        ...


@dataclass(frozen=True, slots=True)
class AckRef:
    ref: str
    episode: str
    person: str  # GROUP for a group message's link
    village: str
    people: tuple[str, ...] = ()  # a group link: the people its message names, in order

    @property
    def named(self) -> tuple[str, ...]:
        """Who may acknowledge with this link: its person, or one of the people the group message names."""
        return self.people if self.person == GROUP else (self.person,)


class AckRefs(Protocol):
    def resolve(self, ref: str) -> AckRef | None: ...


class AckCheck(StrEnum):
    OK = "ok"
    EXPIRED = "expired"
    BAD_SIGNATURE = "bad_signature"
    MALFORMED = "malformed"


def _sig(secret: str, ref: str, exp36: str) -> str:
    mac = hmac.new(secret.encode(), f"{ref}.{exp36}".encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def sign_ack_token(secret: str, ref: str, expires_ms: int) -> str:
    """A token that acknowledges `ref` until `expires_ms` (epoch ms, rounded down to seconds)."""
    if not secret:
        raise ValueError("an ack secret is required to sign links")
    if not ref or "." in ref:
        raise ValueError(f"bad ack reference {ref!r}")
    exp36 = _b36(max(0, expires_ms // 1000))
    return f"{ref}.{exp36}.{_sig(secret, ref, exp36)}"


def verify_ack_token(secret: str, token: str, now_ms: int) -> tuple[AckCheck, str | None]:
    """(verdict, ref): the reference only when the signature holds and the link has not expired."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        return AckCheck.MALFORMED, None
    ref, exp36, sig = parts
    try:
        expires_s = int(exp36, 36)
    except ValueError:
        return AckCheck.MALFORMED, None
    if not secret or not hmac.compare_digest(sig, _sig(secret, ref, exp36)):
        return AckCheck.BAD_SIGNATURE, None
    if now_ms >= expires_s * 1000:
        return AckCheck.EXPIRED, None
    return AckCheck.OK, ref


def ack_ref(episode: str, person: str) -> str:
    """The short, stable reference of (episode, person): 12 base32 characters.
    A group message's reference is `group_ack_ref`."""
    digest = hashlib.sha256(f"{episode}\n{person}".encode()).digest()
    return base64.b32encode(digest).decode()[:12].lower()


def group_ack_ref(episode: str, people: list[str]) -> str:
    """The reference of a group message's link: one per episode and set of named people (channels name
    different people, so each set gets its own reference)."""
    return ack_ref(episode, GROUP + ",".join(people))
