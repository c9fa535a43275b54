"""`qyb backup` and `qyb restore`: online copies of the SQLite store, and putting one back."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qingyubiao.config import load_config
from qyb.args import Command


def register(command: Command) -> None:
    c = command("backup", _backup, "copy the database while the collector runs (consistent, checked)")
    c.add_argument(
        "--to", help="the backup folder: a second disk, a mount of the county server (default: QYB_BACKUP_DIR)"
    )
    c.add_argument("--keep", type=int, default=14, help="backups to keep in the folder (default 14)")
    r = command("restore", _restore, "put a backup in the database's place (stop qyb collect and qyb api first)")
    r.add_argument("backup", help="the backup file (qyb-….sqlite), or a backup folder for its newest")


def _backup(args: argparse.Namespace) -> int:
    from ingest.store.backup import BackupError, backup

    store = load_config(args.config).deployment.store
    db = Path(store.db)
    try:
        path = backup(db, Path(args.to or store.backup_dir), args.keep)
    except (BackupError, OSError) as e:
        print(f"qyb backup: {e}", file=sys.stderr)
        return 1
    print(f"backed up {db} to {path} ({path.stat().st_size} bytes, integrity ok)")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from ingest.store.backup import BackupError, backups, restore

    db = Path(load_config(args.config).deployment.store.db)
    source = Path(args.backup)
    if source.is_dir():
        found = backups(source)
        if not found:
            print(f"qyb restore: no backups in {source}", file=sys.stderr)
            return 1
        source = found[-1]
    try:
        aside = restore(source, db)
    except (BackupError, OSError) as e:
        print(f"qyb restore: {e}", file=sys.stderr)
        return 1
    print(f"restored {source} to {db}" + (f"; the database it replaced is kept as {aside}" if aside else ""))
    return 0
