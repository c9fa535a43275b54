"""Irrigations and the water audit in the readings' SQLite file (qingyubiao.water.WaterBook).

FULL synchronous: an audit line of a command sent to a valve must outlive a power cut.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from qingyubiao.sqlite import open_sqlite
from qingyubiao.water import AuditEntry, Irrigated, ValveRequest

SCHEMA = """
CREATE TABLE IF NOT EXISTS water_irrigation(
    village TEXT NOT NULL, site TEXT NOT NULL, day TEXT NOT NULL, start_ms INTEGER NOT NULL,
    minutes REAL NOT NULL, mm REAL NOT NULL, source TEXT NOT NULL, by_who TEXT NOT NULL, command TEXT);
CREATE INDEX IF NOT EXISTS water_irrigation_day ON water_irrigation(village, day);
CREATE TABLE IF NOT EXISTS water_audit(
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, village TEXT NOT NULL, site TEXT NOT NULL,
    kind TEXT NOT NULL, by_who TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS water_audit_site ON water_audit(village, site, seq);
CREATE TABLE IF NOT EXISTS water_request(
    id TEXT PRIMARY KEY, village TEXT NOT NULL, site TEXT NOT NULL, duration_s INTEGER NOT NULL,
    reason TEXT NOT NULL, by_who TEXT NOT NULL, requested_ms INTEGER NOT NULL, fertigation_l REAL NOT NULL,
    frost INTEGER NOT NULL, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS water_lock(
    village TEXT NOT NULL, site TEXT NOT NULL, by_who TEXT NOT NULL, reason TEXT NOT NULL, since_ms INTEGER NOT NULL,
    PRIMARY KEY(village, site));
"""


class SqliteWaterBook:
    def __init__(self, path: str | Path) -> None:
        self._lock = threading.Lock()
        self._db = open_sqlite(path, synchronous="FULL")
        with self._lock:
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record_irrigation(self, x: Irrigated, reason: str) -> None:
        detail = {"day": x.day, "minutes": x.minutes, "mm": x.mm, "source": x.source, "command": x.command}
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO water_irrigation VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (x.village, x.site, x.day, x.start_ms, x.minutes, x.mm, x.source, x.by, x.command),
                )
                self._insert_audit(AuditEntry(x.start_ms, x.village, x.site, "irrigated", x.by, reason, detail))
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def irrigations(self, village: str, since_day: str) -> list[Irrigated]:
        with self._lock:
            rows = self._db.execute(
                "SELECT village, site, day, start_ms, minutes, mm, source, by_who, command FROM water_irrigation "
                "WHERE village=? AND day>=? ORDER BY start_ms",
                (village, since_day),
            ).fetchall()
        return [Irrigated(*r) for r in rows]

    def water_version(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT count(*), coalesce(max(start_ms), 0) FROM water_irrigation").fetchone()
        return int(row[0]) * 1_000_003 + int(row[1])

    def audit(self, e: AuditEntry) -> None:
        with self._lock:
            self._insert_audit(e)

    def _insert_audit(self, e: AuditEntry) -> None:
        self._db.execute(
            "INSERT INTO water_audit(ts_ms, village, site, kind, by_who, reason, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (e.ts_ms, e.village, e.site, e.kind, e.by, e.reason, json.dumps(e.detail, ensure_ascii=False)),
        )

    def audit_log(self, village: str, sites: set[str] | None = None, limit: int = 500) -> list[AuditEntry]:
        where, args = "village=?", [village]
        if sites is not None:
            where += f" AND site IN ({','.join('?' * len(sites))})" if sites else " AND 0"
            args += sorted(sites)
        with self._lock:
            rows = self._db.execute(
                "SELECT ts_ms, village, site, kind, by_who, reason, detail FROM water_audit "
                f"WHERE {where} ORDER BY seq DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows]

    def _tx(self, *statements: tuple[str, tuple[object, ...]], audit: AuditEntry | None = None) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    self._db.execute(sql, args)
                if audit is not None:
                    self._insert_audit(audit)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def request(self, r: ValveRequest) -> bool:
        detail = {"request": r.id, "duration_s": r.duration_s, "fertigation_l": r.fertigation_l, "frost": r.frost}
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                added = self._db.execute(
                    "INSERT OR IGNORE INTO water_request VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (r.id, r.village, r.site, r.duration_s, r.reason, r.by, r.requested_ms, r.fertigation_l,
                     int(r.frost), r.state),
                ).rowcount == 1  # fmt: skip
                if added:
                    self._insert_audit(AuditEntry(r.requested_ms, r.village, r.site, "requested", r.by, r.reason,
                                                  detail))  # fmt: skip
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        return added

    def _requests(self, where: str, args: tuple[object, ...]) -> list[ValveRequest]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, village, site, duration_s, reason, by_who, requested_ms, fertigation_l, frost, state "
                f"FROM water_request WHERE {where} ORDER BY requested_ms",
                args,
            ).fetchall()
        return [ValveRequest(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8]), r[9]) for r in rows]

    def pending(self, village: str) -> list[ValveRequest]:
        return self._requests("village=? AND state='pending'", (village,))

    def requests_since(self, village: str, since_ms: int) -> list[ValveRequest]:
        return self._requests("village=? AND requested_ms>=?", (village, since_ms))

    def set_request_state(self, request_id: str, state: str) -> None:
        self._tx(("UPDATE water_request SET state=? WHERE id=?", (state, request_id)))

    def lock(self, village: str, site: str, by: str, reason: str, ts_ms: int) -> None:
        self._tx(
            ("INSERT OR REPLACE INTO water_lock VALUES (?, ?, ?, ?, ?)", (village, site, by, reason, ts_ms)),
            audit=AuditEntry(ts_ms, village, site, "locked", by, reason),
        )

    def unlock(self, village: str, site: str, by: str, ts_ms: int) -> None:
        self._tx(
            ("DELETE FROM water_lock WHERE village=? AND site=?", (village, site)),
            audit=AuditEntry(ts_ms, village, site, "unlocked", by, ""),
        )

    def locks(self, village: str) -> dict[str, str]:
        with self._lock:
            rows = self._db.execute("SELECT site, by_who FROM water_lock WHERE village=?", (village,)).fetchall()
        return {site: by for site, by in rows}
