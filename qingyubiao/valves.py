"""Valve commands and the controller's answers: the MQTT payloads between the collector and a valve
controller (docs/irrigation.md, "Valve control").

A command (`qyb/{village}/{device}/cmd`, QoS 1, not retained) opens the valve for `duration_s`; the
controller must close it by itself when the duration ends (`auto_close`), whatever happens to the link.
The controller answers on its status topic (`qyb/{village}/{device}/status`, retained): the command it
acknowledges, the valve's state, and until when it stays open.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

VALVE_STATES = ("open", "closed")


@dataclass(frozen=True, slots=True)
class Command:
    id: str
    action: Literal["open", "close"]
    duration_s: int
    reason: str
    fertigation_l: float = 0.0

    def payload(self, sent_ms: int) -> bytes:
        return json.dumps(
            {"id": self.id, "action": self.action, "duration_s": self.duration_s, "auto_close": True,
             "reason": self.reason, "fertigation_l": self.fertigation_l, "sent_ms": sent_ms},
            ensure_ascii=False,
        ).encode()  # fmt: skip


@dataclass(frozen=True, slots=True)
class ValveStatus:
    valve: Literal["open", "closed"]
    ack: str | None  # the command this status answers (None: a state change of its own)
    until_ms: int | None  # when it closes by itself (open)
    ts_ms: int | None


def parse_status(payload: bytes) -> ValveStatus | None:
    """A valve controller's status, or None when the payload is not one (e.g. 'online' / 'offline')."""
    text = payload.strip()
    if not text.startswith(b"{"):
        return None
    try:
        raw = json.loads(text)
    except ValueError:
        return None
    if not isinstance(raw, dict) or raw.get("valve") not in VALVE_STATES:
        return None
    ack, until, ts = raw.get("ack"), raw.get("until_ms"), raw.get("ts_ms")
    return ValveStatus(
        raw["valve"],
        ack if isinstance(ack, str) and len(ack) <= 64 else None,
        until if isinstance(until, int) else None,
        ts if isinstance(ts, int) else None,
    )
