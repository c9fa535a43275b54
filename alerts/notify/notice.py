"""A notice: one alert state change for one recipient on one channel, as stored in the outbox.

Everything needed to render the message later is copied in when the notice is
queued, so a restart, a morning digest or a retry renders the same words.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field


class Why:
    """Why a notice exists (its `state` in the outbox key)."""

    FIRING = "firing"
    RESOLVED = "resolved"
    REPEAT = "repeat"  # stored as repeat-1, repeat-2 ...
    ESCALATION = "escalation"


@dataclass(frozen=True, slots=True)
class Notice:
    key: str  # idempotency key: episode | state | recipient | channel
    episode: str
    state: str  # firing | resolved | repeat-N | escalation
    kind: str
    severity: str
    audience: str
    village: str
    village_name: str
    site: str
    site_name: str
    device: str
    metric: str
    value: float | None
    threshold: float | None
    started_ms: int
    ts_ms: int
    channel: str
    target: str  # village id for group channels, person id for personal ones
    brand: str
    alert_zh: str = ""  # the alert core's own one-liner, for kinds without a value
    alert_en: str = ""
    mentions: list[str] = field(default_factory=list)  # phones to @ in group robots
    people: list[str] = field(default_factory=list)  # person ids this reaches
    ack_url: str | None = None
    confirm_url: str | None = None  # 确认灌溉: an irrigation advice of a block in confirm mode

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Notice:
        return cls(**json.loads(text))

    @property
    def why(self) -> str:
        return self.state.split("-", 1)[0]


def finite(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def key_of(episode: str, state: str, target: str, channel: str) -> str:
    return f"{episode}|{state}|{target}|{channel}"
