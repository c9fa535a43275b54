"""`qyb sim` with the twin: JSONL out and back, accelerated publishing, plots, and the real collector."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from qingyubiao.config import Config
from sensors_sim.pacing import paced, start_for
from sensors_sim.replay import read_jsonl
from sensors_sim.scenario import load
from sensors_sim.twin import run_scenario
from tests.conftest import Mosquitto, qyb, qyb_env, spawn_qyb, wait_for
from tests.sensors_sim.conftest import flatten

Key = tuple[str, str, int]


def stored(db: Path) -> dict[Key, float]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT s.device, s.metric, r.ts, r.value FROM reading r JOIN series s ON s.id = r.series"
            " WHERE s.metric NOT IN ('rssi_dbm', 'snr_db')"
        ).fetchall()
    return {(d, m, ts): v for d, m, ts, v in rows}


def count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM reading").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


@pytest.mark.slow
def test_output_file_holds_exactly_the_scenario_bytes(tmp_path: Path, lijiahe: Config) -> None:
    out = tmp_path / "dead.jsonl"
    proc = qyb("sim", "--scenario", "sensor-dead", "--seed", "4", "--output", str(out), env={})
    assert "readings (scenario sensor-dead)" in proc.stdout
    assert list(read_jsonl(out)) == [(round(t, 3), tp, p) for t, tp, p in run_scenario(lijiahe, load("sensor-dead"), 4)]


def test_pacing_follows_the_speed_and_never_runs_ahead_of_the_present() -> None:
    now = [1000.0]
    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)
        now[0] += s

    msgs = [(0.0 + 60 * i, "t", b"") for i in range(4)]
    seen = []
    for m in paced(msgs, 60.0, clock=lambda: now[0], sleep=sleep):
        seen.append((m[0], now[0]))
    assert [round(w - 1000.0, 6) for _, w in seen] == [0.0, 1.0, 2.0, 3.0]  # 60 simulated s per wall second
    # a demo that has caught up with the present publishes in real time, not ahead of it
    now[0] = 500.0
    late = [(500.0, "t", b""), (520.0, "t", b"")]
    times = [now[0] for _ in paced(late, 60.0, not_before_sim_time=True, clock=lambda: now[0], sleep=sleep)]
    assert times[1] >= 520.0
    assert start_for(24, 60, 0.0) == -24 * 3600 * (59 / 60) and start_for(2, None, 0.0) == -7200


@pytest.mark.slow
def test_plot_command_writes_a_png(tmp_path: Path) -> None:
    png = tmp_path / "day.png"
    qyb("sim", "--plot", str(png), "--start", "2026-04-10", "--hours", "24", "--seed", "1", env={})
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 30_000


@pytest.mark.slow
def test_twin_through_real_mosquitto_into_the_store(mosquitto: Mosquitto, tmp_path: Path, lijiahe: Config) -> None:
    db = tmp_path / "qyb.sqlite"
    env = qyb_env(mosquitto, db)
    log = tmp_path / "collector.log"
    collector = spawn_qyb("collect", env=env, log=log)
    try:
        wait_for(lambda: "subscribed to" in log.read_text(), 20, "the collector to subscribe")
        # 1. a scenario written to a file, then replayed: the outage's backfill is stored too
        jsonl = tmp_path / "outage.jsonl"
        qyb("sim", "--scenario", "network-outage", "--seed", "2", "--output", str(jsonl), env=env)
        proc = qyb("sim", "--replay", str(jsonl), env=env)
        assert "replayed" in proc.stdout
        published = flatten(lijiahe, list(read_jsonl(jsonl)))
        want = {(r.device, r.metric, round(r.ts_s * 1000)): r.value for r in published
                if r.metric not in ("rssi_dbm", "snr_db")}  # fmt: skip
        wait_for(lambda: len(stored(db)) >= len(want), 60, f"{len(want)} readings stored", interval=0.5)
        assert stored(db) == want
        # 2. live twin, accelerated: half an hour of village life in about three seconds
        before = count(db)
        t0 = time.monotonic()
        proc = qyb("sim", "--twin", "--hours", "0.5", "--speed", "600", "--seed", "3", env=env)
        took = time.monotonic() - t0
        assert took > 2.5, "paced at 600× real time"
        n = int(proc.stdout.split("published ")[1].split()[0])
        assert n > 1000
        wait_for(lambda: count(db) - before >= n, 60, "the live readings stored", interval=0.5)
    finally:
        collector.terminate()
        collector.wait(20)
