"""The database's schema version, and the steps that bring an older database file up to it.

Every store creates its tables in their current shape (CREATE TABLE IF NOT EXISTS), so a new database
needs no migration; an older one keeps its old tables, and the steps below change them. The version lives
in SQLite's `PRAGMA user_version` (0: qyb 0.1.0, which did not record one) and each step applied is kept
in `schema_history`. `open_sqlite` calls `migrate` on every writable open; the first process to open an
older file migrates it, in one IMMEDIATE transaction, so a second one waits and then finds it done.
A database newer than this qyb is refused: its tables may mean something this code does not know.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from qingyubiao import __version__


class SchemaError(ValueError):
    """A database this qyb cannot use as it is; the message says what to do."""


def _table_exists(db: sqlite3.Connection, table: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None


def _add_column(db: sqlite3.Connection, table: str, column: str, decl: str) -> None:
    """A column added after the table first shipped; a table not created yet gets it from its own schema."""
    if not _table_exists(db, table):
        return
    if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")


def _v1(db: sqlite3.Connection) -> None:
    # qyb 0.1.0 added these two by hand at open; databases from before them lack them
    _add_column(db, "api_token", "expires_ms", "INTEGER")  # UserStore fills the NULLs from its token lifetime
    _add_column(db, "notify_send", "recovered", "INTEGER NOT NULL DEFAULT 0")


# MIGRATIONS[n - 1] takes a database from version n - 1 to n. Append only; never edit a shipped step.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1,)
SCHEMA_VERSION = len(MIGRATIONS)

HISTORY = """
CREATE TABLE IF NOT EXISTS schema_history (
    version    INTEGER PRIMARY KEY,
    applied_ms INTEGER NOT NULL,
    qyb        TEXT NOT NULL
)
"""


def version_of(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def refuse_newer(db: sqlite3.Connection, where: object) -> int:
    """The database's version, or SchemaError when it is newer than this qyb knows."""
    found = version_of(db)
    if found > SCHEMA_VERSION:
        raise SchemaError(
            f"{where} has schema version {found}; this qyb {__version__} knows up to {SCHEMA_VERSION}. "
            "Upgrade qyb, or restore a backup made by this version (qyb restore)"
        )
    return found


def migrate(db: sqlite3.Connection, where: object) -> list[int]:
    """Bring a writable connection's database to SCHEMA_VERSION; returns the versions applied."""
    if refuse_newer(db, where) == SCHEMA_VERSION:  # the common case: no write lock taken
        return []
    db.execute("BEGIN IMMEDIATE")
    try:
        found = refuse_newer(db, where)  # again, under the lock: another process may have just done it
        db.execute(HISTORY)
        applied = list(range(found + 1, SCHEMA_VERSION + 1))
        for version in applied:
            MIGRATIONS[version - 1](db)
            db.execute(
                "INSERT OR REPLACE INTO schema_history (version, applied_ms, qyb) VALUES (?, ?, ?)",
                (version, int(time.time() * 1000), __version__),
            )
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return applied
