"""The demo's history (qyb/demo_history.py): stored and evaluated on its own clock, not as backfill.

Before, `qyb demo` published a simulated day over MQTT on the wall clock: every reading arrived a day
late, so every alert was 补报 and every site 数据中断 until the replay reached the present. Here the
history goes through the collector's own steps at the history's clock, while a real reading that
comes late to the live collector is still marked 补报.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient

from qingyubiao.config import Config, load_config
from qyb.demo_cmd import demo_config
from qyb.demo_history import catch_up, page_still_firing, replay
from qyb.system import CollectorSystem, build_api, build_collector
from sensors_sim.scenario import load
from sensors_sim.twin import Twin
from tests.conftest import Mosquitto, running_collector, wait_for

pytestmark = pytest.mark.mosquitto  # the notifier's MQTT link connects to a real broker
TZ = ZoneInfo("Asia/Shanghai")


def _config(broker: Mosquitto, data: Path) -> Config:
    return demo_config(load_config(), str(data), broker.url, "http://127.0.0.1:8000")


@pytest.fixture
def system(mosquitto: Mosquitto, tmp_path: Path) -> Iterator[CollectorSystem]:
    s = build_collector(_config(mosquitto, tmp_path))
    yield s
    s.close()


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as c:
        return c.execute(sql).fetchall()


def _local(ms: object) -> str:
    assert isinstance(ms, int)
    return datetime.fromtimestamp(ms / 1000, TZ).strftime("%H:%M")


def test_a_replayed_outage_is_alerted_when_it_happened_and_only_its_backlog_is_late(
    system: CollectorSystem, tmp_path: Path
) -> None:
    scenario = load("network-outage")  # gw-east down 10:00-12:00, its backlog sent at 12:00
    twin = Twin(scenario.apply_stages(system.collector.config), seed=0, scenario=scenario)
    done = replay(system, twin.run(scenario.end_s))
    assert done.readings > 50_000 and done.rejected == 0
    db = tmp_path / "qyb.sqlite"
    offline = {
        site: (_local(ts), late)
        for site, ts, late in _rows(
            db, "SELECT site, ts_ms, late FROM alert_transition WHERE kind='device_offline' AND state='firing'"
        )
    }
    for site in ("gh01", "gh06", "gh12"):  # the scenario's expectations, at the history's own times
        when, late = offline[site]
        assert "10:00" <= when < "10:40" and late == 0, (site, when)
    transitions = _rows(db, "SELECT site, ts_ms, recorded_ms, late FROM alert_transition")
    assert len(transitions) > 20
    for place, ts, recorded, late in transitions:
        assert isinstance(ts, int) and isinstance(recorded, int)
        if late:  # only what the gateway held back, evaluated when it arrived at 12:00
            assert str(place) in {f"gh{i:02}" for i in range(1, 13)} and "10:00" <= _local(ts) < "12:00"
            assert _local(recorded) == "12:00"
        else:
            assert 0 <= recorded - ts <= 60_000  # judged at the minute it happened
    assert _rows(db, "SELECT count(*) FROM notify_message") == [(0,)]  # the history pages nobody


def test_what_still_fires_at_the_end_of_the_history_is_paged_once(system: CollectorSystem, tmp_path: Path) -> None:
    scenario = load("sensor-dead")  # gh07's air probe dead from 10:00 to the end
    twin = Twin(scenario.apply_stages(system.collector.config), seed=0, scenario=scenario)
    done = replay(system, twin.run(scenario.end_s))
    db = tmp_path / "qyb.sqlite"
    assert _rows(db, "SELECT count(*) FROM notify_message") == [(0,)]
    fired = _rows(db, "SELECT episode, kind, site, ts_ms, late FROM alert_transition WHERE state='firing'")
    assert {str(e) for e, *_ in fired} == set(done.firing)
    fault = [(e, _local(ts), late) for e, kind, site, ts, late in fired if (kind, site) == ("sensor_fault", "gh07")]
    assert len(fault) == 1 and "10:00" <= fault[0][1] < "10:30" and fault[0][2] == 0, fault

    paged = page_still_firing(system, done, int(scenario.end_s * 1000))
    active = {e.id for e in system.alerts.active.values() if e.state == "firing"}
    queued = {str(e) for (e,) in _rows(db, "SELECT DISTINCT episode FROM notify_message")}
    assert paged == len(active) > 0 and queued == active  # now, once, and nothing that ended before
    assert fault[0][0] in queued
    channels = {str(c) for (c,) in _rows(db, "SELECT DISTINCT channel FROM notify_message")}
    assert "feed" in channels  # to the farmer's phone page


def test_the_village_is_live_after_catching_up_with_the_present(system: CollectorSystem, tmp_path: Path) -> None:
    twin = Twin(system.collector.config, seed=0, start_s=time.time() - 3 * 3600)
    started = time.monotonic()
    done = catch_up(system, lambda t: twin.run(t), lambda: twin.physics.t)
    assert time.monotonic() - started < 30  # three hours of the whole village, in seconds
    assert time.time() * 1000 - done.until_ms < 90_000
    db = tmp_path / "qyb.sqlite"
    assert _rows(db, "SELECT count(*) FROM alert_transition WHERE late=1") == [(0,)]
    app = build_api(system.collector.config)
    token = app.state.api.users.issue("lijiahe", "secretary", "test")
    with TestClient(app) as client:
        r = client.get("/api/v1/villages/lijiahe/sites", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    statuses = [s["status"] for s in r.json()]
    assert len(statuses) == 30 and "stale" not in statuses and "unknown" not in statuses, statuses


def test_a_real_reading_that_comes_late_is_still_backfill(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """The demo's history changes nothing for real devices: after it, the live collector judges arrival by
    the wall clock, so a reading stamped an hour ago is 补报, one stamped now is not."""
    config = _config(mosquitto, tmp_path)
    now = time.time()
    system = build_collector(config)
    twin = Twin(config, seed=0, start_s=now - 4 * 3600)
    replay(system, twin.run(now - 2 * 3600))  # the history ends two hours ago: the sensors then fell silent
    system.close()
    with running_collector(config) as live:
        assert live.collector.subscribed.wait(10)  # a first connection: nothing is kept for it before
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="late-test")
        client.connect("127.0.0.1", mosquitto.port)
        client.loop_start()
        for device, ts in (("gh05-air", now - 3600), ("gh06-air", time.time())):
            payload = json.dumps({"ts": ts, "seq": 1, "m": {"air_temp_c": 1.0, "air_rh_pct": 95.0}})
            client.publish(f"qyb/lijiahe/{device}/up", payload, qos=1).wait_for_publish(10)
        client.loop_stop()
        client.disconnect()
        db = tmp_path / "qyb.sqlite"
        sql = (  # not the history's: it ended two hours ago
            "SELECT device, late, text_zh FROM alert_transition WHERE state='firing' AND metric='air_temp_c' "
            f"AND ts_ms >= {int((now - 3601) * 1000)}"
        )
        wait_for(lambda: {d for d, _, _ in _rows(db, sql)} >= {"gh05-air", "gh06-air"}, 20, "both cold readings")
    by_device = {str(d): (late, str(text)) for d, late, text in _rows(db, sql)}
    assert by_device["gh05-air"][0] == 1 and "补报" in by_device["gh05-air"][1]
    assert by_device["gh06-air"][0] == 0 and "补报" not in by_device["gh06-air"][1]
