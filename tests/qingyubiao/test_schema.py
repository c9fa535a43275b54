"""The schema version every open checks and every writable open brings up to date (qingyubiao/schema.py)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from qingyubiao.schema import MIGRATIONS, SCHEMA_VERSION, SchemaError
from qingyubiao.sqlite import open_sqlite


def history(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [v for (v,) in conn.execute("SELECT version FROM schema_history ORDER BY version")]


def test_a_new_database_is_at_the_current_version_with_its_history(tmp_path: Path) -> None:
    db = tmp_path / "qyb.sqlite"
    open_sqlite(db).close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
    assert history(db) == list(range(1, SCHEMA_VERSION + 1))
    open_sqlite(db).close()  # a second open finds it done
    assert history(db) == list(range(1, SCHEMA_VERSION + 1))


@pytest.mark.parametrize("round_", range(30))  # the race is won or lost in microseconds: try it many times
def test_processes_opening_an_old_database_at_once_migrate_it_once(tmp_path: Path, round_: int) -> None:
    db = tmp_path / "qyb.sqlite"
    with sqlite3.connect(db) as conn:  # qyb 0.1.0's token table, before lifetimes (and before WAL)
        conn.execute("CREATE TABLE api_token (hash TEXT PRIMARY KEY, created_ms INTEGER NOT NULL)")
    start, errors = threading.Barrier(6), list[Exception]()

    def open_it() -> None:
        start.wait()
        try:
            open_sqlite(db).close()
        except Exception as e:  # any failure is the answer ("database is locked" leaving the rollback journal)
            errors.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert history(db) == list(range(1, SCHEMA_VERSION + 1))  # one row per version: nobody ran it twice
    with sqlite3.connect(db) as conn:
        assert [r[1] for r in conn.execute("PRAGMA table_info(api_token)")] == ["hash", "created_ms", "expires_ms"]


@pytest.mark.parametrize("readonly", [False, True])
def test_a_newer_database_is_refused_on_any_open(tmp_path: Path, readonly: bool) -> None:
    db = tmp_path / "qyb.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaError, match=rf"schema version {SCHEMA_VERSION + 1}; this qyb .* knows up to"):
        open_sqlite(db, readonly=readonly)


def test_a_failed_step_leaves_the_database_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "qyb.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE api_token (hash TEXT PRIMARY KEY, created_ms INTEGER NOT NULL)")

    def broken(conn: sqlite3.Connection) -> None:
        MIGRATIONS[0](conn)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr("qingyubiao.schema.MIGRATIONS", (broken,))
    with pytest.raises(sqlite3.OperationalError):
        open_sqlite(db)
    with sqlite3.connect(db) as conn:  # the column add rolled back with the rest
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
        assert [r[1] for r in conn.execute("PRAGMA table_info(api_token)")] == ["hash", "created_ms"]
