"""A simulated valve controller on the real broker: it obeys commands, answers on its retained status topic,
and closes by itself when a command's duration ends — or fails as told (a valve stuck open, a controller
that never answers), so the whole loop runs without hardware (docs/irrigation.md)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

import paho.mqtt.client as mqtt

from qingyubiao import topics

Failure = Literal["none", "stuck_open", "silent"]


@dataclass
class TwinValve:
    host: str
    port: int
    village: str
    device: str
    failure: Failure = "none"
    opened_s: list[tuple[float, float]] = field(default_factory=list)  # (opened, closed) epoch seconds, for tests
    _timer: threading.Timer | None = None
    _open_since: float | None = None
    _command: str | None = None

    def start(self) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"twin-{self.device}")
        self.client.on_connect = lambda c, *_: c.subscribe(topics.device_cmd(self.village, self.device), qos=1)
        self.client.on_message = self._on_command
        self.ready = threading.Event()
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.connect(self.host, self.port)
        self.client.loop_start()
        if not self.ready.wait(10):
            raise RuntimeError(f"twin valve {self.device}: not subscribed")
        self._say("closed", None, None)

    def _say(self, valve: str, ack: str | None, until_ms: int | None, closed_s: float | None = None) -> None:
        opened = self._open_since if valve == "open" else (self.opened_s[-1][0] if self.opened_s else None)
        body = {"valve": valve, "ack": ack, "until_ms": until_ms, "ts_ms": int(time.time() * 1000),
                "command": self._command, "opened_ms": None if opened is None else int(opened * 1000),
                "closed_ms": None if closed_s is None else int(closed_s * 1000)}  # fmt: skip
        self.client.publish(topics.device_status(self.village, self.device), json.dumps(body), qos=1, retain=True)

    def _on_command(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if self.failure == "silent":
            return
        cmd = json.loads(msg.payload)
        if cmd.get("action") == "close":
            self._close(cmd.get("id"))
            return
        duration = float(cmd["duration_s"])
        self._open_since = time.time()
        self._command = cmd["id"]
        self._say("open", cmd["id"], int((self._open_since + duration) * 1000))
        if self._timer is not None:
            self._timer.cancel()
        if self.failure != "stuck_open":  # the controller's own timer: closes even if the link is gone
            self._timer = threading.Timer(duration, self._close, args=(None,))
            self._timer.daemon = True
            self._timer.start()

    def _close(self, ack: str | None) -> None:
        closed = time.time()
        if self._open_since is not None:
            self.opened_s.append((self._open_since, closed))
            self._open_since = None
        self._say("closed", ack, None, closed if self.opened_s else None)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.client.loop_stop()
        self.client.disconnect()
