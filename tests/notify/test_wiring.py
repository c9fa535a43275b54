"""End to end through `qyb`'s composition root: readings over real MQTT → collector → alert core →
outbox → dispatcher thread → a WeCom receiver and the broker's alerts topic."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from prometheus_client import generate_latest

from qyb.system import build_collector
from tests.conftest import Mosquitto, wait_for
from tests.notify.conftest import Receiver, notify_config


def test_a_hot_greenhouse_reaches_the_wecom_group_and_the_alerts_topic(
    mosquitto: Mosquitto, receivers: dict[str, Receiver], tmp_path: Path
) -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["deployment"]["store"]["db"] = str(tmp_path / "qyb.sqlite")
        raw["deployment"]["mqtt"]["client_id"] = "qyb-wiring-test"
        raw["deployment"]["metrics_port"] = 0
        for d in raw["village"][0]["device"]:
            if d["id"] == "gh03-air":
                d["interval_s"] = 3600  # readings from the last 20 minutes are live, not backfill

    config = notify_config(receivers, mqtt_url=mosquitto.url, edit=edit, group_wait_s=0)
    got: list[dict[str, Any]] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="wiring-listener")
    sub.on_message = lambda c, u, m: got.append(json.loads(m.payload))
    sub.connect("127.0.0.1", mosquitto.port)
    sub.subscribe("qyb/lijiahe/alerts", 1)
    sub.loop_start()
    system = build_collector(config)
    collector = system.collector
    stop = threading.Event()
    runner = threading.Thread(target=system.run, args=(stop,), daemon=True)
    runner.start()
    try:
        wait_for(lambda: any(t.name == "qyb-notify" for t in threading.enumerate()), 5, "the dispatcher thread")
        assert collector.subscribed.wait(15)  # a device's first messages before that would go to nobody
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="wiring-device")
        pub.connect("127.0.0.1", mosquitto.port)
        pub.loop_start()
        now = time.time()
        for k in range(21):  # 38.2 °C for 20 minutes: pepper's critical heat (35 °C for 15 min)
            ts = now - (20 - k) * 60
            pub.publish("qyb/lijiahe/gh03-air/up", json.dumps({"ts": ts, "m": {"air_temp_c": 38.2, "air_rh_pct": 60}}),
                        qos=1).wait_for_publish(5)  # fmt: skip
        pub.loop_stop()
        pub.disconnect()
        wait_for(lambda: receivers["wecom"].requests and got, 30, "the WeCom message and the MQTT alert event")
        body = receivers["wecom"].requests[0].json()
        assert body["msgtype"] == "text" and "13909120002" in body["text"]["mentioned_mobile_list"]
        assert "3号棚 气温 38.2℃，已超过 35℃" in body["text"]["content"]
        assert got[0]["site"] == "gh03" and got[0]["state"] == "firing" and got[0]["severity"] == "critical"
        exposed = generate_latest(collector.metrics.registry).decode()  # the outbox on the collector's /metrics
        assert 'qyb_notify_failed_attempts_total{channel="wecom"} 0.0' in exposed
        assert 'qyb_notify_messages{status="failed"}' in exposed
    finally:
        stop.set()
        runner.join(15)
        sub.loop_stop()
        sub.disconnect()
        system.close()
    assert not any(t.name.startswith("qyb-notify") for t in threading.enumerate())
