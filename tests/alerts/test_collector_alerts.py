"""The running collector raises alerts from live MQTT readings, stores them, and does not re-fire after a restart."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import Mosquitto, qyb, qyb_env, spawn_qyb, wait_for

pytestmark = pytest.mark.slow  # starts processes or a browser: `-m 'not slow'` skips it

TOPIC = "qyb/lijiahe/gh01-air/up"


def _publish(port: int, readings: list[tuple[float, float]], topic: str = TOPIC) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="alert-publisher")
    client.connect("127.0.0.1", port)
    client.loop_start()
    for ts, temp in readings:
        payload = json.dumps({"ts": ts, "m": {"air_temp_c": temp, "air_rh_pct": 70.0}}).encode()
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def _firing(db: Path, rule: str) -> list[tuple[str, int]]:
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        try:
            return conn.execute(
                "SELECT episode, late FROM alert_transition WHERE rule=? AND state='firing' ORDER BY id", (rule,)
            ).fetchall()
        except sqlite3.OperationalError:  # the collector has not created the tables yet
            return []


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    proc = spawn_qyb("collect", env=env, log=log)
    wait_for(lambda: log.exists() and log.read_text().count("subscribed to") >= 1, 20, "the collector to subscribe")
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)


def test_live_cold_readings_fire_once_across_a_restart(mosquitto: Mosquitto, tmp_path: Path) -> None:
    db, log = tmp_path / "qyb.sqlite", tmp_path / "collect.log"
    env = qyb_env(mosquitto, db, client_id="collector-alerts")
    proc = _start(env, log)
    try:
        now = time.time()
        _publish(mosquitto.port, [(now - 120, 2.0), (now - 60, 2.0)])  # tomato below 3 °C: emergency at once
        wait_for(lambda: len(_firing(db, "tomato-cold-emergency")) == 1, 20, "the emergency to be recorded")
        (episode, late), *_ = _firing(db, "tomato-cold-emergency")
        assert episode.startswith("tomato-cold-emergency/lijiahe/gh01-air/air_temp_c@") and late == 0
    finally:
        _stop(proc)
    listed = qyb("alerts", "list", env=env).stdout
    assert "1号棚 低温（紧急）" in listed and "1 open alerts" in listed

    log2 = tmp_path / "collect2.log"
    proc = _start(env, log2)
    try:
        _publish(mosquitto.port, [(time.time(), 2.1)])  # still cold after the restart: the same episode, no new page
        # then gh05 (tomatoes too) freezes: once its emergency is recorded, the alert core has handled the
        # gh01 reading before it (one connection, in order): a positive signal, not a fixed sleep
        _publish(mosquitto.port, [(time.time(), 2.0)], topic="qyb/lijiahe/gh05-air/up")
        wait_for(lambda: len(_firing(db, "tomato-cold-emergency")) == 2, 20, "gh05's emergency")
    finally:
        _stop(proc)
    (first, second) = _firing(db, "tomato-cold-emergency")
    assert first == (episode, 0) and "/gh05-air/" in second[0]
