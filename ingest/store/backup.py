"""Online backups of the SQLite store, and putting one back (docs/deploy.md "Backups").

`backup(db, folder, keep)` copies the whole database — readings, alerts, notifications, people, water —
through SQLite's backup API in one step: one read transaction, so the copy is the database as it was at
one moment, while the collector goes on writing (WAL: a reader never blocks the writer). The copy is
written beside its final name, checked with `PRAGMA integrity_check`, fsynced and only then renamed, so
a backup folder never holds a half-written backup under a backup's name. The oldest beyond `keep` are
removed. A second disk or a mount of the county server is just another folder.

`restore(backup, db)` checks the backup, moves the current database (and its WAL) aside, and puts the
backup in its place; stop `qyb collect` and `qyb api` first. A backup from an older qyb is migrated on the
first open; one from a newer qyb is refused.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
from pathlib import Path

from qingyubiao.schema import SCHEMA_VERSION, version_of

PREFIX, SUFFIX = "qyb-", ".sqlite"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why."""


def schema_version(path: Path) -> int:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return version_of(db)
    finally:
        db.close()


def integrity(path: Path) -> str:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    except sqlite3.DatabaseError as e:
        return str(e)
    finally:
        db.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backups(folder: Path) -> list[Path]:
    """The backups in a folder, oldest first (their names sort by time)."""
    return sorted(p for p in folder.glob(f"{PREFIX}*{SUFFIX}") if p.is_file())


def backup(db: Path, folder: Path, keep: int, now: dt.datetime | None = None) -> Path:
    if not db.is_file():
        raise BackupError(f"no database at {db}")
    if keep < 1:
        raise BackupError("keep at least 1 backup")
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    final = folder / f"{PREFIX}{stamp}{SUFFIX}"
    part = final.with_name(final.name + ".part")
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(part)
    try:
        src.backup(dst)  # pages=-1: the whole database in one step, in one read transaction
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
    finally:
        dst.close()
        src.close()
    check = integrity(part)
    if check != "ok":
        part.unlink(missing_ok=True)
        raise BackupError(f"the copy failed its integrity check: {check}")
    _fsync(part)
    part.rename(final)
    _fsync(folder)
    for old in backups(folder)[:-keep]:
        old.unlink()
    return final


def restore(source: Path, db: Path, now: dt.datetime | None = None) -> Path | None:
    """Put a backup in the database's place; returns where the database it replaced was moved (None: none)."""
    if not source.is_file():
        raise BackupError(f"no backup at {source}")
    check = integrity(source)
    if check != "ok":
        raise BackupError(f"{source} is not a sound database: {check}")
    if (found := schema_version(source)) > SCHEMA_VERSION:  # an older one is migrated when qyb opens it
        raise BackupError(
            f"{source} has schema version {found}, newer than this qyb knows ({SCHEMA_VERSION}): upgrade qyb first"
        )
    db.parent.mkdir(parents=True, exist_ok=True)
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    aside = None
    if db.exists():
        aside = db.with_name(f"{db.name}.before-restore-{stamp}")
        db.rename(aside)
        for ext in ("-wal", "-shm"):  # the old database's log belongs to it, not to the backup
            log = db.with_name(db.name + ext)
            if log.exists():
                log.rename(aside.with_name(aside.name + ext))
    part = db.with_name(db.name + ".restoring")
    shutil.copyfile(source, part)
    _fsync(part)
    part.rename(db)
    _fsync(db.parent)
    return aside
