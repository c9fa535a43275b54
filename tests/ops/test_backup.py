"""`qyb backup` while the collector ingests, and `qyb restore`: real Mosquitto, the real `qyb collect`.

A first plan of readings is published and stored (acknowledged); a second is published while `qyb backup`
runs. The backup must open, pass `PRAGMA integrity_check`, and hold every reading of the first plan; a
restored database must be what the next `qyb` reads.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from ingest.store.sqlite import SqliteStore
from qingyubiao.config import Config
from qingyubiao.series import SeriesIndex
from sensors_sim import publisher
from tests.conftest import Mosquitto, qyb, qyb_env, wait_for
from tests.e2e.test_no_loss import NOW, count, expected, publish_plan, start_collector, stored

pytestmark = pytest.mark.slow


def test_a_backup_during_ingest_is_sound_and_holds_every_acknowledged_reading(
    mosquitto: Mosquitto, village: Config, tmp_path: Path
) -> None:
    db, log, folder = tmp_path / "qyb.sqlite", tmp_path / "collect.log", tmp_path / "backups"
    env = qyb_env(mosquitto, db, client_id="collector-backup")
    collector = start_collector(env, log)
    try:
        first: list[tuple[publisher.Format, int, float]] = [("device", 3_000, NOW - 10 * 86_400)]
        acknowledged = expected(village, first)
        assert not publish_plan(village, mosquitto.url, first, rate=5_000)
        wait_for(lambda: count(db) >= len(acknowledged), 60, "the first plan stored")
        second: list[tuple[publisher.Format, int, float]] = [("gateway", 20_000, NOW - 5 * 86_400)]
        errors: list[list[BaseException]] = []
        writer = threading.Thread(target=lambda: errors.append(publish_plan(village, mosquitto.url, second, 2_000)))
        writer.start()
        wait_for(lambda: count(db) > len(acknowledged) + 500, 60, "ingest under way")
        out = qyb("backup", "--to", str(folder), "--keep", "2", env=env)
        during = count(db)
        writer.join(300)
        assert errors == [[]]
    finally:
        collector.terminate()
        collector.wait(30)
    [path] = list(folder.glob("qyb-*.sqlite"))
    assert f"to {path}" in out.stdout and "integrity ok" in out.stdout
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as b:
        assert b.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copy = stored(path)
    assert acknowledged.items() <= copy.items()  # every reading acknowledged before the backup began
    assert len(acknowledged) < len(copy) <= during  # and what was coming in, up to a moment in the ingest
    assert not list(folder.glob("*.part"))


def make_store(db: Path, village: Config) -> None:
    """A database of the current schema, made by the store."""
    SqliteStore(db, SeriesIndex(village)).close()


def test_backups_rotate_and_a_restore_is_what_qyb_reads_next(
    mosquitto: Mosquitto, village: Config, tmp_path: Path
) -> None:
    db, folder = tmp_path / "qyb.sqlite", tmp_path / "backups"
    env = qyb_env(mosquitto, db)
    make_store(db, village)
    made = [qyb("backup", "--to", str(folder), "--keep", "2", env=env) for _ in range(3)]
    kept = sorted(folder.glob("qyb-*.sqlite"))
    assert len(kept) == 2 and all(m.returncode == 0 for m in made)
    with sqlite3.connect(db) as conn:  # the live database moves on after the newest backup
        conn.execute("CREATE TABLE after_backup(x)")
    r = qyb("restore", str(folder), env=env)
    assert f"restored {kept[-1]} to {db}" in r.stdout and "before-restore-" in r.stdout
    with sqlite3.connect(db) as conn:
        names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master")}
    assert "after_backup" not in names and "reading" in names
    assert [p for p in tmp_path.iterdir() if ".before-restore-" in p.name]  # the replaced one is kept
    qyb("export", "--from", "2020-01-01", env=env)  # the next qyb starts on the restored database


def test_a_broken_backup_is_refused_and_the_database_stays(
    tmp_path: Path, mosquitto: Mosquitto, village: Config
) -> None:
    db = tmp_path / "qyb.sqlite"
    env = qyb_env(mosquitto, db)
    make_store(db, village)
    bad = tmp_path / "qyb-20260101T000000000000Z.sqlite"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    before = db.read_bytes()
    r = qyb("restore", str(bad), env=env, check=False)
    assert r.returncode == 1 and "is not a sound database" in r.stderr
    assert db.read_bytes() == before
    missing = qyb("backup", "--to", str(tmp_path / "b"), env=qyb_env(mosquitto, tmp_path / "none.sqlite"), check=False)
    assert missing.returncode == 1 and "no database at" in missing.stderr


def test_a_file_that_is_no_qyb_database_is_said_not_a_traceback(tmp_path: Path, mosquitto: Mosquitto) -> None:
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    empty.write_bytes(b"")  # an empty file, as a wrong QYB_DB or an unfinished copy would be
    r = qyb("export", "--from", "2020-01-01", env=qyb_env(mosquitto, empty), check=False)
    assert r.returncode != 0 and "is not a qyb database" in r.stderr and "Traceback" not in r.stderr
