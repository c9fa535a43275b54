"""Edits made on the overview reach the running collector without a restart: a threshold changed through
the API while readings flow fires on the next readings, and a person added through the API is paged with
them (docs/design.md "How edits reach the running processes"). Real mosquitto, the real collector with its
notifications (qyb/system.py), the real API app over the same database and rules file, a local WeCom
receiver that checks who is named."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient

from api.users import UserStore
from qyb.system import build_api, build_collector
from tests.conftest import Mosquitto, wait_for
from tests.e2e.test_no_loss import count
from tests.notify.conftest import Receiver, notify_config, receivers  # noqa: F401  (a fixture)

V = "/api/v1/villages/lijiahe"
RULE = "pepper-hot-critical"  # gh03 grows peppers: 35 °C for 15 minutes, day and night


def publish(port: int, start_s: float, n: int, temp: float) -> None:
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"live-edit-{start_s}")
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    for k in range(n):
        body = {"ts": start_s + k * 60, "m": {"air_temp_c": temp, "air_rh_pct": 60.0}}
        pub.publish("qyb/lijiahe/gh03-air/up", json.dumps(body), qos=1).wait_for_publish(10)
    pub.loop_stop()
    pub.disconnect()


def test_a_threshold_and_a_person_edited_through_the_api_reach_the_running_collector(
    mosquitto: Mosquitto,
    receivers: dict[str, Receiver],  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    db = tmp_path / "qyb.sqlite"

    def edit(raw: dict[str, Any]) -> None:
        raw["deployment"]["store"] = {"db": str(db)}
        raw["deployment"]["mqtt"]["client_id"] = "qyb-live-edit"
        raw["deployment"]["metrics_port"] = 0
        raw["deployment"]["alerts"] = {"rules_file": str(tmp_path / "rules.toml")}
        for d in raw["village"][0]["device"]:
            if d["id"] == "gh03-air":
                d["interval_s"] = 3600  # readings from the last 20 minutes are live, not backfill

    config = notify_config(receivers, mqtt_url=mosquitto.url, edit=edit, group_wait_s=0)
    system = build_collector(config)
    stop = threading.Event()
    runner = threading.Thread(target=system.run, args=(stop,), daemon=True)
    runner.start()
    secretary = UserStore(db, config).issue("lijiahe", "secretary")
    api = TestClient(build_api(config))
    auth = {"Authorization": f"Bearer {secretary}"}
    firing = lambda: [e for e in system.alerts.active.values() if e.rule == RULE and e.state == "firing"]  # noqa: E731
    try:
        assert system.collector.subscribed.wait(15)
        now = time.time()
        publish(mosquitto.port, now - 40 * 60, 20, 33.0)  # 20 minutes at 33 °C: under 35, nothing critical
        wait_for(lambda: count(db) == 40, 20, "the first readings stored")
        # the alert core has seen them: the heat warning (32 °C by day, 25 °C at night) is pending
        seen = lambda: [t for t in system.alerts.recent if t.rule == "pepper-hot-warning"]  # noqa: E731
        wait_for(seen, 10, "the heat warning pending")
        assert [t for t in system.alerts.recent if t.rule == RULE] == []

        # the secretary lowers gh03's critical heat to 30 °C held 5 minutes, and adds a farmer for gh03
        body = {"site": "gh03", "rule": RULE, "day": 30.0, "night": 30.0, "for": "5m"}
        r = api.put(f"{V}/rules/overrides", json=body, headers=auth)
        assert r.status_code == 200, r.text
        assert "5 秒" in r.json()["note"]
        person = {"id": "zhao-xin", "name": "赵新", "phone": "13909129999", "role": "farmer", "sites": ["gh03"]}
        assert api.post(f"{V}/people", json=person, headers=auth).status_code == 201
        wait_for(lambda: "changed: the new rules are in force" in caplog.text, 10, "the collector to see the file")

        publish(mosquitto.port, now - 20 * 60, 21, 33.0)  # the same 33 °C, now over the new threshold
        wait_for(lambda: firing(), 20, "the critical heat alert at the new threshold")
        (episode,) = firing()
        assert episode.site == "gh03" and episode.value == 33.0
        # paged at once, naming the farmer added a minute ago
        wait_for(lambda: receivers["wecom"].requests, 20, "the WeCom message")
        named = receivers["wecom"].requests[0].json()["text"]["mentioned_mobile_list"]
        assert "13909129999" in named
        assert "30℃" in receivers["wecom"].requests[0].json()["text"]["content"]
    finally:
        stop.set()
        runner.join(15)
        system.close()
