"""Upgrades: a database made by qyb 0.1.0 (which recorded no schema version) is migrated on start and keeps
everything; a database newer than this qyb is refused with a message, untouched.

tests/fixtures/qyb-0.1.0-unversioned.sqlite was made by qyb 0.1.0 (commit 7d500e6) itself:
`qyb demo --duration 12` (the twin's readings, alerts, snapshots, a year of daily risks), then
`qyb users add wang-fang ...`, `qyb users token li-jianjun` / `wang-fang` (the two tokens below) and
`qyb agronomy biofix or01 2026-05-10`; the risks before 2026-11-27 were deleted and the file vacuumed to
keep it small (774 kB).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import httpx
import pytest

from qingyubiao.config import Config
from qingyubiao.schema import SCHEMA_VERSION
from sensors_sim import publisher
from tests.conftest import Mosquitto, free_port, qyb, qyb_env, spawn_qyb, wait_for, wait_port
from tests.e2e.test_no_loss import NOW, count, expected, publish_plan, start_collector, stored

FIXTURE = Path(__file__).parents[1] / "fixtures" / "qyb-0.1.0-unversioned.sqlite"
TOKENS = {"li-jianjun": "qyb_kSW1nszeBT8G1kDKcwSgSv_4KYo6paSe", "wang-fang": "qyb_8bqV9aO4ZFRngAme4qAwR875NtJ9VMWO"}


def rows_per_table(db: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n: int(conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names}


def schema_of(db: Path) -> tuple[int, list[tuple[int, str]]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        history = [(int(v), str(q)) for v, q in conn.execute("SELECT version, qyb FROM schema_history")]
    return version, history


def columns(db: Path, table: str) -> set[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


@pytest.fixture
def old_db(tmp_path: Path) -> Path:
    db = tmp_path / "qyb.sqlite"
    shutil.copyfile(FIXTURE, db)
    return db


@pytest.mark.slow
def test_the_0_1_0_database_is_migrated_on_start_and_keeps_everything(
    old_db: Path, mosquitto: Mosquitto, village: Config, tmp_path: Path
) -> None:
    before, readings_before = rows_per_table(old_db), stored(old_db)
    with sqlite3.connect(f"file:{old_db}?mode=ro", uri=True) as conn:
        fixture_alerts = {(i, site) for i, site in conn.execute("SELECT id, site FROM alert_episode")}
    with sqlite3.connect(old_db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    assert before["reading"] > 1000 and before["alert_episode"] > 0 and before["api_token"] >= 2

    # the new collector starts on it and ingests as usual
    env = qyb_env(mosquitto, old_db, client_id="collector-upgrade")
    log = tmp_path / "collect.log"
    collector = start_collector(env, log)
    try:
        plan: list[tuple[publisher.Format, int, float]] = [("device", 500, NOW - 86_400)]
        acknowledged = expected(village, plan)
        assert not publish_plan(village, mosquitto.url, plan, rate=2_000)
        wait_for(lambda: count(old_db) >= len(readings_before) + len(acknowledged), 60, "the new readings stored")
    finally:
        collector.terminate()
        collector.wait(30)
    assert "schema migrated to version 1" in log.read_text()

    version, history = schema_of(old_db)
    assert version == SCHEMA_VERSION and [v for v, _ in history] == list(range(1, SCHEMA_VERSION + 1))
    after = rows_per_table(old_db)
    assert {t: n for t, n in after.items() if t in before and n < before[t] and t != "rollup_dirty"} == {}
    now = stored(old_db)
    assert readings_before.items() <= now.items() and acknowledged.items() <= now.items()

    # the API serves the old alerts and the old tokens still log in
    port = free_port()
    api = spawn_qyb("api", "--port", str(port), env=env, log=tmp_path / "api.log")
    try:
        wait_port(port, 30)
        for person, token in TOKENS.items():
            me = httpx.get(f"http://127.0.0.1:{port}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200 and me.json()["id"] == person, me.text
        alerts = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/villages/lijiahe/alerts",
            headers={"Authorization": f"Bearer {TOKENS['wang-fang']}"},
            params={"status": "all", "start": "2026-01-01", "limit": 1000},
        )
        assert alerts.status_code == 200, alerts.text
        theirs = {i for i, site in fixture_alerts if site in me.json()["sites"]}  # the last caller's sites
        assert theirs and theirs <= {a["id"] for a in alerts.json()}
    finally:
        api.terminate()
        api.wait(30)
    out = qyb("export", "--from", "2020-01-01", "--format", "jsonl", env=env)
    assert len(out.stdout.splitlines()) >= len(now)


def test_a_database_from_before_token_lifetimes_gets_the_columns_and_its_tokens_a_lifetime(
    old_db: Path, mosquitto: Mosquitto
) -> None:
    with sqlite3.connect(old_db) as conn:  # as qyb was before it added these two columns by hand
        conn.execute("ALTER TABLE api_token DROP COLUMN expires_ms")
        conn.execute("ALTER TABLE notify_send DROP COLUMN recovered")
    qyb("users", "list", env=qyb_env(mosquitto, old_db))
    assert "expires_ms" in columns(old_db, "api_token") and "recovered" in columns(old_db, "notify_send")
    with sqlite3.connect(old_db) as conn:
        assert conn.execute("SELECT count(*) FROM api_token WHERE expires_ms IS NULL").fetchone()[0] == 0
    assert schema_of(old_db)[0] == SCHEMA_VERSION


@pytest.mark.parametrize("command", [("export", "--from", "2020-01-01"), ("users", "list"), ("collect",)])
def test_a_database_newer_than_this_qyb_is_refused_and_left_alone(
    command: tuple[str, ...], old_db: Path, mosquitto: Mosquitto
) -> None:
    with sqlite3.connect(old_db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 98}")
    untouched = old_db.read_bytes()
    r = qyb(*command, env=qyb_env(mosquitto, old_db), check=False, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr  # the CLI's "cannot start on this" code
    assert f"has schema version {SCHEMA_VERSION + 98}; this qyb" in r.stderr and "Upgrade qyb" in r.stderr
    assert "Traceback" not in r.stderr
    assert old_db.read_bytes() == untouched


def test_restore_refuses_a_backup_from_a_newer_qyb(old_db: Path, mosquitto: Mosquitto, tmp_path: Path) -> None:
    newer = tmp_path / "qyb-20991231T000000000000Z.sqlite"
    shutil.copyfile(old_db, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    untouched = old_db.read_bytes()
    r = qyb("restore", str(newer), env=qyb_env(mosquitto, old_db), check=False)
    assert r.returncode == 1 and "newer than this qyb knows" in r.stderr and "Traceback" not in r.stderr
    assert old_db.read_bytes() == untouched
    older = qyb("restore", str(FIXTURE), env=qyb_env(mosquitto, old_db))  # an older one is fine: migrated on open
    assert "restored" in older.stdout
