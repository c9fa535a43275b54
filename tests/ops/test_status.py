"""`qyb status` and /healthz's box detail on a running box: real Mosquitto, `qyb collect`, `qyb api`.

Up, everything is said healthy with the real numbers (readings counted in the database by the test);
with the collector stopped, and then the broker, each is said down, the exit code is 1, and the
secretary's overview banner (/problems) names the broker.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import Mosquitto, free_port, qyb, qyb_env, spawn_qyb, wait_for, wait_port

pytestmark = pytest.mark.slow


def recent_readings(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        since = int(time.time() * 1000) - 10 * 60_000
        return int(conn.execute("SELECT count(*) FROM reading WHERE ts >= ?", (since,)).fetchone()[0])


def lines(out: str) -> dict[str, str]:
    """part -> its line, from `qyb status`."""
    return {m.group(2): m.group(0) for m in re.finditer(r"^([✔!✘-]) (\w+) .*$", out, re.M)}


def test_status_says_what_is_up_and_what_is_down(mosquitto: Mosquitto, tmp_path: Path) -> None:
    db, port = tmp_path / "qyb.sqlite", free_port()
    env = qyb_env(mosquitto, db, QYB_METRICS_PORT=str(free_port()), QYB_BACKUP_DIR=str(tmp_path / "backups"),
                  QYB_PUBLIC_URL=f"http://127.0.0.1:{port}")  # fmt: skip
    collector = spawn_qyb("collect", env=env, log=tmp_path / "collect.log")
    api = spawn_qyb("api", "--port", str(port), env=env, log=tmp_path / "api.log")
    try:
        wait_for(lambda: "subscribed to" in (tmp_path / "collect.log").read_text(), 20, "the collector")
        wait_port(port, 30)
        qyb("sim", "--count", "120", env=env)  # one round of the village's devices: all of them now
        wait_for(lambda: recent_readings(db) >= 120, 30, "the readings stored")
        qyb("backup", env=env)  # to QYB_BACKUP_DIR

        up = qyb("status", env=env)
        said = lines(up.stdout)
        assert list(said) == ["broker", "collector", "api", "readings", "devices", "dispatcher", "spool", "backup",
                              "disk"], up.stdout  # fmt: skip
        assert said["broker"].startswith("✔") and "消息代理运行中，已运行" in said["broker"]
        assert said["collector"].startswith("✔") and said["api"].startswith("✔")
        assert f"最近 10 分钟收到 {recent_readings(db)} 条读数" in said["readings"]
        assert said["backup"].startswith("✔") and "last backup 0 min ago" in said["backup"]
        assert said["spool"].startswith("-")  # no InfluxDB here
        assert up.returncode == 0 and up.stdout.rstrip().endswith(("正常 / healthy", "需要注意 / needs a look"))

        health, asked = httpx.get(f"http://127.0.0.1:{port}/healthz").json(), time.monotonic()
        assert health["status"] == "ok" and health["box"]["level"] in ("ok", "warn")
        parts = [c["part"] for c in health["box"]["checks"]]
        assert parts == ["broker", "collector", "readings", "devices", "dispatcher", "spool", "backup", "disk"]

        collector.terminate()
        collector.wait(30)
        down = qyb("status", env=env, check=False)
        said = lines(down.stdout)
        assert down.returncode == 1 and down.stdout.rstrip().endswith("有故障 / unhealthy")
        assert said["collector"].startswith("✘ collector  采集程序没有运行") and said["dispatcher"].startswith("✘")
        assert said["broker"].startswith("✔") and said["api"].startswith("✔")

        mosquitto.stop()
        said = lines(qyb("status", env=env, check=False).stdout)
        assert said["broker"].startswith("✘ broker     消息代理连不上") and "Connection refused" in said["broker"]

        # the secretary's overview banner names the broker (the collector, down, cannot say it)
        token = qyb("users", "token", "secretary", env=env).stdout.split("#token=")[1].split()[0]
        time.sleep(max(0.0, asked + 15.5 - time.monotonic()))  # the API keeps its view of the box 15 s
        got = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/villages/lijiahe/problems", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert got["collector"] == "unreachable"
        assert [c["part"] for c in got["box"]] == ["broker"] and "消息代理连不上" in got["box"][0]["text_zh"]
    finally:
        for p in (collector, api):
            if p.poll() is None:
                p.terminate()
                p.wait(30)


def test_status_without_a_database_or_with_a_newer_one_says_so(mosquitto: Mosquitto, tmp_path: Path) -> None:
    db = tmp_path / "qyb.sqlite"
    env = qyb_env(mosquitto, db, QYB_METRICS_PORT="0")
    none = qyb("status", "--api", "http://127.0.0.1:1", env=env, check=False)
    assert none.returncode == 1 and f"✘ store      没有数据库 {db}" in none.stdout, none.stdout + none.stderr
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 99")
    newer = qyb("status", env=env, check=False)
    assert (
        newer.returncode == 1 and "the database cannot be read" in newer.stdout and "schema version 99" in newer.stdout
    )
    assert "Traceback" not in newer.stderr and lines(newer.stdout)["broker"].startswith("✔")
