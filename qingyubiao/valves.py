"""Valve commands and the controller's answers: the MQTT payloads between the collector and a valve
controller (docs/irrigation.md, "Valve control").

A command (`qyb/{village}/{device}/cmd`, QoS 1, not retained) opens the valve for `duration_s`; the
controller must close it by itself when the duration ends (`auto_close`), whatever happens to the link.
The controller answers on its status topic (`qyb/{village}/{device}/status`, retained): the command it
acknowledges, the valve's state, until when it stays open, and the last command it carried out with when
the valve opened and closed for it — so a collector that restarts after the valve closed by itself still
learns what happened from the retained state.
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
    command: str | None = None  # the last command it carried out
    opened_ms: int | None = None  # when the valve opened for it
    closed_ms: int | None = None  # and closed (closed)


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

    def word(key: str) -> str | None:
        x = raw.get(key)
        return x if isinstance(x, str) and len(x) <= 64 else None

    def ms(key: str) -> int | None:
        x = raw.get(key)
        return x if isinstance(x, int) and not isinstance(x, bool) else None

    return ValveStatus(raw["valve"], word("ack"), ms("until_ms"), ms("ts_ms"), word("command"), ms("opened_ms"),
                       ms("closed_ms"))  # fmt: skip
