"""Every kind of bad input through real mosquitto into a running `qyb collect`.

Each is refused (or flagged) with its reason, counted in Prometheus and in the
database, kept as a dead letter, visible through `qyb deadletters` and
`qyb devices --unknown`; the good readings travelling with it are stored; and
the collector is still alive at the end.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import sqlite3
import time
import urllib.request
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import Mosquitto, free_port, qyb, qyb_env, spawn_qyb, wait_for

pytestmark = pytest.mark.slow  # starts processes or a browser: `-m 'not slow'` skips it

V = "lijiahe"


def _metrics(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = re.match(r"^(qyb_[a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def _lan_address() -> str:
    """This machine's address on its network (not loopback): where a neighbour would connect."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # UDP: picks the outgoing interface, sends nothing
        addr = s.getsockname()[0]
    assert not addr.startswith("127."), addr
    return str(addr)


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


def test_bad_input_is_refused_counted_kept_and_good_readings_survive(mosquitto: Mosquitto, tmp_path: Path) -> None:
    db, log, port = tmp_path / "qyb.sqlite", tmp_path / "collect.log", free_port()
    env = qyb_env(mosquitto, db, client_id="collector-bad", QYB_METRICS_PORT=str(port))
    collector = spawn_qyb("collect", env=env, log=log)
    wait_for(lambda: log.exists() and "subscribed to" in log.read_text(), 20, "the collector to subscribe")
    t = round(time.time()) - 3600
    gh = f"qyb/{V}/gh01-air/up"
    cases: list[tuple[str, bytes]] = [
        (gh, b'{"ts": 1, "m": {'),  # malformed JSON
        (gh, b'{"ts": %d, "m": {"air_temp_c": 1}, "pad": "%s"}' % (t, b"x" * 300_000)),  # oversized
        (gh, b'{"ts": %d, "m": {"air_temp_c": "23.4", "air_rh_pct": 61.5}}' % t),  # wrong type
        (gh, b'{"ts": %d, "m": {"air_temp_c": NaN, "air_rh_pct": 62.5}}' % (t + 60)),  # NaN
        (gh, b'{"ts": %d, "m": {"air_temp_c": 1e999, "air_rh_pct": 63.5}}' % (t + 120)),  # overflows to inf
        (gh, b'{"ts": %d, "m": {"air_temp_c": true, "air_rh_pct": 64.5}}' % (t + 180)),  # bool is not a number
        (gh, b'{"ts": %d, "m": {"air_temp_c": 20.5, "ph": 6.5}}' % (t + 240)),  # unknown metric
        (gh, b'{"ts": %d, "m": {"air_temp_c": -80, "air_rh_pct": 130}}' % (t + 300)),  # out of range: flagged
        (gh, b'{"ts": %d, "m": {"air_temp_c": 21.5}}' % (t + 86_400 * 2)),  # far in the future
        (gh, b'{"ts": 12345, "m": {"air_temp_c": 21.5}}'),  # clock never set
        (gh, b'{"ts": "yesterday", "m": {"air_temp_c": 21.5}}'),  # unparseable time
        (gh, b'"just a string"'),  # not a reading
        (gh, b'{"ts": %d, "m": {"air_temp_c": 5, "air_temp_c": 25}}' % (t + 360)),  # which one? neither
        (f"qyb/{V}/gh99-air/up", b'{"ts": %d, "m": {"air_temp_c": 20}}' % t),  # unknown device
        (
            f"qyb/{V}/gw/gw-east/up",
            json.dumps(
                {
                    "gw": "gw-east",
                    "readings": [
                        {"dev": "gh02-air", "ts": t, "m": {"air_temp_c": 18.5, "air_rh_pct": 80.5}},
                        {"dev": "ghost-node", "ts": t, "m": {"air_temp_c": 18.0}},
                        {"dev": "gh03-air", "ts": t, "m": {"air_temp_c": "hot"}},
                    ],
                }
            ).encode(),
        ),
        (
            "application/0b6f4f52-8a1e-4c51-9a6e-5e1f3c9d2a71/device/ffffffffffffffff/event/up",
            json.dumps(
                {
                    "deduplicationId": "x1",
                    "time": "2026-11-22T08:00:00Z",
                    "deviceInfo": {"devEui": "ffffffffffffffff"},
                    "object": {"temperature": 3.5},
                }
            ).encode(),
        ),
        (f"qyb/{V}/gh04-air/status", b"on fire"),  # not online/offline
    ]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bad-publisher")
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    for topic, payload in cases:
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    # a good reading after all that: the collector is alive and well
    client.publish(
        gh, b'{"ts": %d, "m": {"air_temp_c": 22.5, "air_rh_pct": 70.5}}' % (t + 600), qos=1
    ).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()

    want_reasons = {
        "malformed_json": 1,
        "oversized": 1,
        "wrong_type": 3,
        "non_finite": 2,
        "unknown_metric": 1,
        "future_timestamp": 1,
        "bad_timestamp": 2,
        "bad_schema": 2,
        "unknown_device": 3,
        "duplicate_key": 1,
    }

    def counts() -> dict[str, int]:
        return dict(_rows(db, "SELECT reason, n FROM reject_count"))

    try:
        wait_for(lambda: db.exists() and counts() == want_reasons and len(_stored(db)) == 11, 20, "all cases stored")
        # the collector counts a batch after storing it and running the alert core on it: wait for the counts
        wait_for(lambda: _metrics(port).get("qyb_messages_received_total") == len(cases) + 1, 10, "the counters")
        metrics = _metrics(port)
        from_outside = _reachable(_lan_address(), port)
    finally:
        alive = collector.poll() is None
        collector.send_signal(signal.SIGTERM)
        collector.wait(20)
    assert alive, "the collector died on bad input"
    assert not from_outside, "the Prometheus endpoint must listen on loopback only by default"
    for reason, n in want_reasons.items():
        assert metrics[f'qyb_rejected_total{{reason="{reason}"}}'] == n, reason
    assert metrics["qyb_out_of_range_total"] == 2
    assert metrics["qyb_readings_stored_total"] == 11
    assert metrics["qyb_messages_received_total"] == len(cases) + 1
    assert metrics["qyb_inbox_depth"] == 0  # everything received is stored
    assert metrics["qyb_decoder_process"] == 1  # decoded in the decoder process, which bad input never crashed

    # the good readings that came with the bad ones
    assert _stored(db) == _expected_good(t)

    # the dead letters keep the payload as received
    letters = _rows(db, "SELECT reason, topic, payload FROM dead_letter")
    assert len(letters) == sum(want_reasons.values())
    assert ("malformed_json", gh, b'{"ts": 1, "m": {') in letters

    # visible to the operator through the command line
    shown = qyb("deadletters", "--limit", "50", env=env).stdout
    for reason, n in want_reasons.items():
        assert re.search(rf"{reason}\s+{n}\b", shown), reason
    assert re.search(r"out_of_range\s+2\b", shown)
    unknown = qyb("devices", "--unknown", env=env).stdout
    for dev in ("gh99-air", "ghost-node", "ffffffffffffffff"):
        assert dev in unknown
    exported = qyb("export", "--site", "gh01", env=env).stdout.splitlines()
    assert exported[0].startswith("ts,village,site,device,metric,value,")  # the named columns follow
    assert not any(",-80.0" in line or ",130.0" in line for line in exported)  # flagged readings left out
    flagged = qyb("export", "--site", "gh01", "--include-flagged", env=env).stdout
    assert ",air_temp_c,-80.0,1" in flagged


def _stored(db: Path) -> dict[tuple[str, str, int], float]:
    rows = _rows(db, "SELECT s.device, s.metric, r.ts / 1000, r.value FROM reading r JOIN series s ON s.id = r.series")
    return {(str(d), str(m), int(ts)): float(v) for d, m, ts, v in rows}


def _expected_good(t: int) -> dict[tuple[str, str, int], float]:
    return {
        ("gh01-air", "air_rh_pct", t): 61.5,
        ("gh01-air", "air_rh_pct", t + 60): 62.5,
        ("gh01-air", "air_rh_pct", t + 120): 63.5,
        ("gh01-air", "air_rh_pct", t + 180): 64.5,
        ("gh01-air", "air_temp_c", t + 240): 20.5,
        ("gh01-air", "air_temp_c", t + 300): -80.0,
        ("gh01-air", "air_rh_pct", t + 300): 130.0,
        ("gh02-air", "air_temp_c", t): 18.5,
        ("gh02-air", "air_rh_pct", t): 80.5,
        ("gh01-air", "air_temp_c", t + 600): 22.5,
        ("gh01-air", "air_rh_pct", t + 600): 70.5,
    }
