"""MQTT out: alert events (JSON) to qyb/{village}/alerts; loudspeaker text to qyb/{village}/broadcast.

QoS 1 and each event carries its idempotency `key`, so subscribers dedup a
redelivery; the publish counts as delivered when the broker acknowledged it.
"""

from __future__ import annotations

import json
import threading
import time

import paho.mqtt.client as mqtt

from alerts.notify import text
from alerts.notify.channels.base import Outcome
from alerts.notify.outbox import Send
from alerts.text import metric_names
from qingyubiao import topics
from qingyubiao.config import MqttSettings
from qingyubiao.mqtt_login import client_for


class MqttLink:
    """One publishing connection for both MQTT channels (reconnects in paho's loop thread)."""

    def __init__(self, settings: MqttSettings, client_id: str) -> None:
        self.client = client_for(settings, client_id)
        self.connected = threading.Event()
        self.client.on_connect = lambda *a: self.connected.set()
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.connect_async(settings.host, settings.port, keepalive=settings.keepalive_s)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes, timeout_s: float = 10.0) -> Outcome:
        if not self.connected.wait(timeout_s):
            return Outcome(False, True, "MQTT broker not connected")
        info = self.client.publish(topic, payload, qos=1)
        deadline = time.monotonic() + timeout_s
        while not info.is_published():
            if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_QUEUE_SIZE:
                return Outcome(False, True, f"MQTT publish rc={info.rc}")
            if time.monotonic() > deadline:
                return Outcome(False, True, "MQTT publish not acknowledged in time")
            time.sleep(0.005)
        return Outcome(True, False, f"published to {topic}")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class MqttAlertsChannel:
    name = "mqtt"
    budget_per_target = True
    idempotent = True
    per_minute: int | None = None
    max_items = 1  # one event per message: consumers expect the v1 event shape

    def __init__(self, link: MqttLink) -> None:
        self.link = link

    def payload(self, send: Send, now_ms: int) -> bytes:
        n = send.notices[0]
        zh, en = text.line(n, now_ms)
        doc = {
            "v": 1, "key": n.key, "episode": n.episode, "state": n.state, "kind": n.kind, "severity": n.severity,
            "audience": n.audience, "village": n.village, "site": n.site, "device": n.device, "metric": n.metric,
            "unit": metric_names(n.metric)[2], "value": n.value, "threshold": n.threshold,
            "started_ms": n.started_ms, "ts_ms": n.ts_ms, "text_zh": zh, "text_en": en,
        }  # fmt: skip
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()

    def deliver(self, send: Send, now_ms: int) -> Outcome:
        return self.link.publish(topics.alerts(send.target), self.payload(send, now_ms))


class BroadcastChannel:
    """Short spoken text for the village loudspeaker (智慧小喇叭): urgent crop alerts only."""

    name = "broadcast"
    budget_per_target = True  # each village its own loudspeaker
    idempotent = False  # a loudspeaker cannot dedup; a line in flight at a crash is said again, marked
    per_minute: int | None = 6  # a loudspeaker that talks all the time is switched off
    max_items = 3

    def __init__(self, link: MqttLink) -> None:
        self.link = link

    def deliver(self, send: Send, now_ms: int) -> Outcome:
        said = "".join(text.loudspeaker(n) for n in send.notices)
        if send.recovered:
            said = text.possible_repeat("zh") + said
        return self.link.publish(topics.broadcast(send.target), said.encode())
