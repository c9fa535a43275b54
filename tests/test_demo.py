"""`qyb demo` on a machine with nothing but Python: embedded broker, collector, simulated sensors."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow  # starts processes or a browser: `-m 'not slow'` skips it


def test_demo_runs_the_village_with_an_embedded_broker(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QYB_")}
    started = time.time()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "qyb",
            "demo",
            "--duration",
            "40",  # the history first, then live readings for the rest (the deadline counts from the start)
            "--history",
            "2",
            "--data",
            str(tmp_path),
            "--port",
            str(free_port()),
            "--api-port",
            str(free_port()),
            "--metrics-port",
            "0",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(embedded)" in proc.stdout
    assert "replaying the village's last 2.0 h" in proc.stdout and "数据已实时 data is live" in proc.stdout
    assert "2 twin valve controllers: gh01-valve, or01-valve" in proc.stdout  # the loop has valves to move
    stored = int(re.search(r"stopped; (\d+) readings stored", proc.stdout).group(1))  # type: ignore[union-attr]
    with sqlite3.connect(tmp_path / "qyb.sqlite") as db:
        assert db.execute("SELECT count(*) FROM reading").fetchone()[0] == stored
        devices = db.execute(
            "SELECT count(DISTINCT s.device) FROM reading r JOIN series s ON s.id = r.series"
        ).fetchone()[0]
        oldest, newest = db.execute("SELECT min(ts), max(ts) FROM reading").fetchone()
        # the live part came through the broker: the collector stored readings sent after the history
        live = db.execute("SELECT count(*) FROM reading WHERE ts > ?", (int(started * 1000) + 5_000,)).fetchone()[0]
    assert stored > 0
    assert devices >= 24  # the greenhouses at least are reporting
    assert 1.9 * 3_600_000 < started * 1000 - oldest < 2.1 * 3_600_000 and newest <= time.time() * 1000
    assert live > 0


def test_the_demos_options_are_checked_in_both_languages() -> None:
    for args, said in (
        (["--speed", "0.5"], "回放速度至少为 1 / the speed must be at least 1"),
        (["--history", "-1"], "历史应为 0 到 720 小时 / history must be 0 to 720 hours"),
        (["--speed", "fast"], "不是数字 / not a number"),
    ):
        proc = subprocess.run([sys.executable, "-m", "qyb", "demo", *args], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and said in proc.stderr, proc.stderr
    shown = subprocess.run([sys.executable, "-m", "qyb", "demo", "--help"], capture_output=True, text=True, timeout=60)
    assert all(o in shown.stdout for o in ("--port", "--api-port", "--speed", "--history"))


def test_demo_config_gives_the_demo_a_rules_file_ack_links_and_its_pages_address(tmp_path: Path) -> None:
    from qingyubiao.config import load_config
    from qyb.demo_cmd import demo_config

    config = demo_config(load_config(env={}), str(tmp_path), None, "http://127.0.0.1:8123")
    dep = config.deployment
    assert dep.alerts.rules_file == str(tmp_path / "rules.toml")  # the overview's rule editor writes it
    assert dep.notify.public_url == "http://127.0.0.1:8123"  # ack links in notices open the demo's pages
    key = tmp_path / "ack-secret"
    assert dep.notify.ack_secret == key.read_text() and len(key.read_text()) >= 40
    assert key.stat().st_mode & 0o777 == 0o600  # it signs links that acknowledge alerts in people's names
    again = demo_config(load_config(env={}), str(tmp_path), None, "http://127.0.0.1:8124")
    assert again.deployment.notify.ack_secret == dep.notify.ack_secret  # links sent before a restart still work
    given = {"QYB_ALERT_RULES": "/srv/rules.toml", "QYB_ACK_SECRET": "s3cret", "QYB_PUBLIC_URL": "https://x.cn"}
    kept = demo_config(load_config(env=given), str(tmp_path), None, "http://127.0.0.1:8123").deployment
    assert (kept.alerts.rules_file, kept.notify.ack_secret, kept.notify.public_url) == (
        "/srv/rules.toml",
        "s3cret",
        "https://x.cn",
    )


def test_live_readings_go_out_at_their_own_time_not_behind_the_first() -> None:
    from qyb.demo_cmd import in_real_time

    clock = [1000.0]
    sent: list[tuple[float, float]] = []  # (simulated time, wall time it went out)
    msgs = [(910.0, "t", b""), (970.0, "t", b""), (1030.0, "t", b""), (1090.0, "t", b"")]

    def sleep(s: float) -> None:
        clock[0] += s

    for m in in_real_time(msgs, lambda: False, clock=lambda: clock[0], sleep=sleep):
        sent.append((m[0], clock[0]))
    # the history's last 90 s at once, then each at its time: the twin's clock is the wall clock
    assert sent == [(910.0, 1000.0), (970.0, 1000.0), (1030.0, 1030.0), (1090.0, 1090.0)]


def test_the_demo_fits_valves_only_where_the_config_has_none() -> None:
    from qingyubiao.config import bundled_config_path, load_config
    from qyb.demo_cmd import demo_valves

    config = demo_valves(load_config(bundled_config_path()))
    v = config.village[0]
    fitted = {s.id: (s.irrigation.valve, s.irrigation.mode) for s in v.site if s.irrigation and s.irrigation.valve}
    assert fitted == {"or01": ("or01-valve", "confirm"), "gh01": ("gh01-valve", "automatic")}
    assert {d.id: d.site for d in v.device if d.id.endswith("-valve")} == {"or01-valve": "or01", "gh01-valve": "gh01"}
    assert len(v.device) == 62 and demo_valves(config) == config  # a config with valves is left as it is
