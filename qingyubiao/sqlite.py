"""The one way the project opens its SQLite file: every store, the outbox, the users and the alerts.

All of them share one database file (docs/design.md): WAL, so readers never wait for the writer; a busy
timeout, so two processes writing queue up instead of failing; and a read-only connection through a URI
in which '?', '#' and '%' of the path are escaped — unescaped, SQLite opens (or creates) another file.
Every open checks the schema version (qingyubiao/schema.py): a writable one migrates an older file, any
one refuses a file newer than this qyb.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from qingyubiao.schema import migrate, refuse_newer

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000


def read_only_uri(path: str | Path) -> str:
    return f"file:{quote(str(Path(path).resolve()))}?mode=ro"


def open_sqlite(
    path: str | Path,
    *,
    readonly: bool = False,
    synchronous: Literal["FULL", "NORMAL"] = "FULL",
) -> sqlite3.Connection:
    """A connection usable from any thread (callers serialise with their own lock), in autocommit mode:
    transactions are explicit (BEGIN ... COMMIT). Writable: the folder is created and WAL set, and
    FULL synchronous unless the caller can lose its last commits to a power cut (NORMAL)."""
    if readonly:
        db = sqlite3.connect(read_only_uri(path), uri=True, isolation_level=None, check_same_thread=False)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    try:
        refuse_newer(db, path)  # before WAL mode, which rewrites the header of a file qyb must leave alone
        if not readonly:
            set_wal(db)
            db.execute(f"PRAGMA synchronous={synchronous}")
            fresh = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
            if (applied := migrate(db, path)) and not fresh:  # a new file is made at the version, not migrated
                log.info("%s: schema migrated to version %d", path, applied[-1])
    except BaseException:
        db.close()
        raise
    return db


def set_wal(db: sqlite3.Connection) -> None:
    """WAL mode. Leaving a rollback journal needs the file to itself, and SQLite answers "database is
    locked" at once, without its busy handler, while another process opens the same file (the collector
    and the API started together on an old database): wait for it as the busy timeout would."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
