"""`qyb sim --count`: waits for a slow broker instead of failing, and runs without --start never repeat a
timestamp nor write one in the future. Real mosquitto, the real collector."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from qingyubiao.config import Config
from sensors_sim import publisher
from tests.conftest import Mosquitto, qyb, qyb_env, spawn_qyb, wait_for
from tests.e2e.test_no_loss import stored

pytestmark = pytest.mark.slow  # starts processes or a browser: `-m 'not slow'` skips it


def test_a_stalled_broker_makes_the_publisher_wait_not_fail(mosquitto: Mosquitto, lijiahe: Config) -> None:
    # over 70,000 messages outrun paho's 65,535 message ids while the broker answers nothing: before, publish()
    # raised "paho refused to queue a message"; now it waits for acknowledgements and finishes
    got: set[tuple[str, bytes]] = set()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="count-all", clean_session=False)
    sub.on_message = lambda c, u, m: got.add((m.topic, bytes(m.payload)))
    sub.connect("127.0.0.1", mosquitto.port)
    sub.subscribe("qyb/#", qos=1)
    sub.loop_start()
    settings = lijiahe.deployment.mqtt.model_copy(update={"url": mosquitto.url})
    msgs = list(publisher.messages(lijiahe, 200_000, seed=1, start_s=1_790_000_000.0, fmt="device"))
    want = {(m.topic, m.payload) for m in msgs}
    n = len(want)
    assert n > 70_000
    result: list[object] = []

    def run() -> None:
        try:
            result.append(publisher.publish(settings, iter(msgs), client_id="stall-test"))
        except Exception as e:  # reported below
            result.append(e)

    assert mosquitto.proc is not None
    pub = threading.Thread(target=run)
    try:
        pub.start()
        time.sleep(0.5)  # connected, publishing
        mosquitto.proc.send_signal(signal.SIGSTOP)
        time.sleep(4.0)  # long enough to queue far more than 65,535 messages in paho
        mosquitto.proc.send_signal(signal.SIGCONT)
        pub.join(300)
    finally:
        mosquitto.proc.send_signal(signal.SIGCONT)
    assert result == [sum(m.readings for m in msgs)]
    wait_for(lambda: len(got) >= n, 120, f"{n} messages at the subscriber", interval=0.5)
    sub.loop_stop()
    assert got == want


def test_runs_without_start_end_now_and_never_repeat_a_timestamp(
    mosquitto: Mosquitto, tmp_path: Path, lijiahe: Config
) -> None:
    db, log = tmp_path / "qyb.sqlite", tmp_path / "collect.log"
    env = qyb_env(mosquitto, db)
    collector = spawn_qyb("collect", env=env, log=log)
    try:
        wait_for(lambda: "subscribed to" in log.read_text(), 20, "the collector to subscribe")
        first = time.time()
        qyb("sim", "--count", "300", env=env)
        time.sleep(1.1)  # a second run a second later: it used to write the same timestamps again
        qyb("sim", "--count", "300", "--seed", "1", env=env)
        last = time.time()
        wait_for(lambda: len(stored(db)) >= 600, 60, "600 readings stored", interval=0.3)
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(20)
    readings = stored(db)
    assert len(readings) == 600  # none replaced another
    newest = max(ts for _, _, ts in readings)
    longest = max(d.interval_s for v in lijiahe.village for d in v.device) * 1000
    assert first * 1000 - longest <= newest <= last * 1000  # each run ends within one interval of its start
