"""A simulated valve controller on the real broker: it obeys commands, answers on its retained status topic,
and closes by itself when a command's duration ends — or fails as told (a valve stuck open, a controller
that never answers), so the whole loop runs without hardware (docs/irrigation.md).

`ValveWater` turns the twin's valves into water in its physics: an open valve puts down its block's drip
rate for as long as it is open by the wall clock — the time the collector records the irrigation by — and
the physics takes what was put down at its next step, so the soil moisture the twin's probe reports rises
by the water the audit says was applied, at any simulation speed."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import paho.mqtt.client as mqtt
from numpy.typing import NDArray

from qingyubiao import topics
from qingyubiao.config import Config
from sensors_sim.physics import Physics

log = logging.getLogger(__name__)
Failure = Literal["none", "stuck_open", "silent"]


@dataclass
class TwinValve:
    host: str
    port: int
    village: str
    device: str
    failure: Failure = "none"
    on_change: Callable[[bool], None] | None = None  # told True when the valve opens, False when it closes
    opened_s: list[tuple[float, float]] = field(default_factory=list)  # (opened, closed) epoch seconds, for tests
    unreadable: list[bytes] = field(default_factory=list)  # payloads on the command topic that were no command
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
        if msg.topic != topics.device_cmd(self.village, self.device):
            # the embedded broker (amqtt) may hand a client others' messages; a controller obeys only its own
            return
        try:
            cmd = json.loads(msg.payload)
            if cmd.get("action") == "close":
                self._close(cmd.get("id"))
                return
            duration = float(cmd["duration_s"])
        except (ValueError, KeyError, TypeError, AttributeError):  # a controller ignores what it cannot read
            self.unreadable.append(bytes(msg.payload))
            log.warning("twin valve %s: not a command on %s: %r", self.device, msg.topic, bytes(msg.payload)[:80])
            return
        self._open_since = time.time()
        self._command = cmd["id"]
        if self.on_change is not None:
            self.on_change(True)
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
            if self.on_change is not None:
                self.on_change(False)
        self._say("closed", ack, None, closed if self.opened_s else None)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.client.loop_stop()
        self.client.disconnect()


class ValveWater:
    """The water the twin's valves put down, per physics site, by the wall clock (see the module's note)."""

    def __init__(self, n_sites: int, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.rate = np.zeros(n_sites)  # mm h-1 of each open valve
        self.pending = np.zeros(n_sites)
        self._since = clock()
        self._lock = threading.Lock()

    def _accrue(self) -> None:
        now = self.clock()
        self.pending += self.rate * max(now - self._since, 0.0) / 3600.0
        self._since = now

    def set(self, site: int, mm_h: float) -> None:
        with self._lock:
            self._accrue()
            self.rate[site] = mm_h

    def take(self) -> NDArray[np.float64] | None:
        with self._lock:
            self._accrue()
            if not self.pending.any():
                return None
            out, self.pending = self.pending, np.zeros_like(self.pending)
            return out


def twin_valves(config: Config, physics: Physics, host: str, port: int, failure: Failure = "none") -> list[TwinValve]:
    """A started twin controller for every valve in the config, its water fed into `physics`."""
    water = ValveWater(physics.n_sites)
    physics.water_in = water.take
    valves = []
    for i, ref in enumerate(physics.sites):
        site = next(s for s in config.village[ref.village].site if s.id == ref.site)
        if site.irrigation is None or not site.irrigation.valve:
            continue
        valve = TwinValve(host, port, config.village[ref.village].id, site.irrigation.valve, failure,
                          on_change=_feeds(water, i, site.drip_mm_h or 0.0))  # fmt: skip
        valve.start()
        valves.append(valve)
    return valves


def _feeds(water: ValveWater, site: int, mm_h: float) -> Callable[[bool], None]:
    return lambda is_open: water.set(site, mm_h if is_open else 0.0)
