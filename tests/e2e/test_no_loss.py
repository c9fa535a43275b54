"""Nothing is lost and nothing is stored twice: collector killed with SIGKILL, broker restarted.

Real mosquitto, the real `qyb collect` process, the real publisher. The set of
stored (device, metric, ts, value) must equal the set published, exactly.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
from functools import partial
from pathlib import Path

import pytest

from qingyubiao.config import Config
from sensors_sim import publisher
from tests.conftest import Mosquitto, qyb_env, spawn_qyb, wait_for

Key = tuple[str, str, int]


def expected(config: Config, plan: list[tuple[publisher.Format, int, float]]) -> dict[Key, float]:
    out: dict[Key, float] = {}
    for fmt, count, start in plan:
        for _v, d, ts, m in publisher.readings(config, count, seed=7, start_s=start, fmt=fmt):
            for metric, value in m.items():
                key = (d.id, metric, round(ts * 1000))
                assert key not in out, "the plan must not publish one reading twice"
                out[key] = value
    return out


def stored(db: Path, metrics: str = "measurements") -> dict[Key, float]:
    """Stored readings; `measurements` leaves out the radio signal that ChirpStack uplinks add."""
    signal_filter = "NOT IN" if metrics == "measurements" else "IN"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT s.device, s.metric, r.ts, r.value FROM reading r JOIN series s ON s.id = r.series"
            f" WHERE s.metric {signal_filter} ('rssi_dbm', 'snr_db')"
        ).fetchall()
    return {(d, m, ts): v for d, m, ts, v in rows}


def count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM reading").fetchone()[0])
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def stored_at_least(db: Path, n: int) -> bool:
    return count(db) >= n


def decoder_of(collector: subprocess.Popen[bytes]) -> int:
    """The pid of the collector's decoder process (it runs by default), once started."""
    found: list[int] = []

    def started() -> bool:
        children = Path(f"/proc/{collector.pid}/task/{collector.pid}/children").read_text().split()
        found[:] = [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        return len(found) == 1

    wait_for(started, 30, "the decoder process")
    return found[0]


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"  # a zombie has exited
    except FileNotFoundError:
        return True


def start_collector(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    before = log.read_text().count("subscribed to") if log.exists() else 0
    proc = spawn_qyb("collect", env=env, log=log)
    wait_for(lambda: log.read_text().count("subscribed to") > before, 20, "the collector to subscribe")
    return proc


def publish_plan(
    config: Config, broker_url: str, plan: list[tuple[publisher.Format, int, float]], rate: float
) -> list[BaseException]:
    """Publish each format from its own client, paced; returns errors (empty on success)."""
    settings = config.deployment.mqtt.model_copy(update={"url": broker_url})
    errors: list[BaseException] = []

    def run(fmt: publisher.Format, n: int, start: float) -> None:
        try:
            msgs = publisher.messages(config, n, seed=7, start_s=start, fmt=fmt)
            publisher.publish(settings, msgs, client_id=f"pub-{fmt}", rate=rate)
        except BaseException as e:  # reported by the test
            errors.append(e)

    threads = [threading.Thread(target=run, args=step) for step in plan]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return errors


# Distinct start times per format, days apart, so no two formats publish the same (series, ts).
NOW = 1_790_000_000.0


@pytest.mark.slow
def test_sigkill_twice_loses_nothing_and_duplicates_nothing(
    mosquitto: Mosquitto, village: Config, tmp_path: Path
) -> None:
    plan: list[tuple[publisher.Format, int, float]] = [
        ("device", 20_000, NOW - 40 * 86_400),
        ("gateway", 24_000, NOW - 20 * 86_400),
        ("chirpstack", 8_000, NOW - 60 * 86_400),
    ]
    want = expected(village, plan)
    assert len(want) >= 50_000
    db, log = tmp_path / "qyb.sqlite", tmp_path / "collect.log"
    env = qyb_env(mosquitto, db, client_id="collector-kill")
    collector = start_collector(env, log)

    result: list[list[BaseException]] = []
    pub = threading.Thread(target=lambda: result.append(publish_plan(village, mosquitto.url, plan, rate=900)))
    pub.start()
    try:
        for threshold in (8_000, 24_000):
            wait_for(partial(stored_at_least, db, threshold), 120, f"{threshold} stored readings")
            decoder = decoder_of(collector)
            collector.send_signal(signal.SIGKILL)
            collector.wait(10)
            wait_for(partial(gone, decoder), 10, "the killed collector's decoder process to exit")
            collector = start_collector(env, log)
        pub.join(300)
        assert result == [[]], f"publisher failed: {result}"
        wait_for(lambda: len(stored(db)) >= len(want), 120, "every reading to be stored")
        os.kill(decoder_of(collector), signal.SIGTERM)  # systemd stops a service by signalling all its processes
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(20)
    assert collector.returncode == 0
    assert log.read_text().count("subscribed to") == 3  # it really was killed and restarted twice
    assert "decoder process died" not in log.read_text()
    got = stored(db)
    assert len(got) == len(want)
    assert got == pytest.approx(want)
    # every ChirpStack uplink also stored its signal: one RSSI and one SNR reading per message
    uplinks = sum(1 for _ in publisher.messages(village, 8_000, seed=7, start_s=plan[2][2], fmt="chirpstack"))
    radio = stored(db, metrics="signal")
    assert sum(m == "rssi_dbm" for _, m, _ in radio) == uplinks
    assert sum(m == "snr_db" for _, m, _ in radio) == uplinks


@pytest.mark.slow
def test_broker_restart_during_ingestion(mosquitto: Mosquitto, village: Config, tmp_path: Path) -> None:
    plan: list[tuple[publisher.Format, int, float]] = [
        ("gateway", 12_000, NOW - 10 * 86_400),
        ("device", 6_000, NOW - 30 * 86_400),
    ]
    want = expected(village, plan)
    db, log = tmp_path / "qyb.sqlite", tmp_path / "collect.log"
    env = qyb_env(mosquitto, db, client_id="collector-restart")
    collector = start_collector(env, log)
    result: list[list[BaseException]] = []
    pub = threading.Thread(target=lambda: result.append(publish_plan(village, mosquitto.url, plan, rate=400)))
    pub.start()
    try:
        wait_for(lambda: count(db) >= 3_000, 60, "ingestion to be under way")
        mosquitto.restart(down_s=1.0)
        wait_for(lambda: log.read_text().count("subscribed to") >= 2, 60, "the collector to reconnect")
        pub.join(300)
        assert result == [[]], f"publisher failed: {result}"
        wait_for(lambda: count(db) >= len(want), 120, "every reading to be stored")
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(20)
    assert "disconnected from broker" in log.read_text()
    assert collector.returncode == 0
    got = stored(db)
    assert len(got) == len(want)
    assert got == pytest.approx(want)
