"""Daily risks and biofixes in the readings' SQLite file (qingyubiao.risks.RiskBook)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from qingyubiao.risks import Biofix, DayRisk
from qingyubiao.sqlite import open_sqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS agronomy_risk(
    village TEXT NOT NULL, site TEXT NOT NULL, model TEXT NOT NULL, day TEXT NOT NULL,
    risk INTEGER NOT NULL, detail TEXT NOT NULL, PRIMARY KEY(village, site, model, day));
CREATE TABLE IF NOT EXISTS agronomy_biofix(
    village TEXT NOT NULL, site TEXT NOT NULL, pest TEXT NOT NULL, year INTEGER NOT NULL, day TEXT NOT NULL,
    set_by TEXT NOT NULL, set_ms INTEGER NOT NULL, PRIMARY KEY(village, site, pest, year));
"""


HIGH = 3  # agronomy.risk.Risk.HIGH (the store does not import the models)


def _json(detail: dict[str, object]) -> str:
    return json.dumps(detail, ensure_ascii=False, separators=(",", ":"))


def _row(r: tuple[Any, ...]) -> DayRisk:
    return DayRisk(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]))


class SqliteRiskBook:
    def __init__(self, path: str | Path) -> None:
        self._lock = threading.Lock()
        # FULL: a biofix is a person's word, acknowledged by the API (a day of risks would be recomputed)
        self._db = open_sqlite(path, synchronous="FULL")
        with self._lock:
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def set_biofix(self, b: Biofix) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO agronomy_biofix VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(village, site, pest, year) "
                "DO UPDATE SET day=excluded.day, set_by=excluded.set_by, set_ms=excluded.set_ms",
                (b.village, b.site, b.pest, int(b.day[:4]), b.day, b.set_by, b.set_ms),
            )

    def biofixes(self, village: str) -> list[Biofix]:
        with self._lock:
            rows = self._db.execute(
                "SELECT village, site, pest, day, set_by, set_ms FROM agronomy_biofix WHERE village=? "
                "ORDER BY site, pest, day",
                (village,),
            ).fetchall()
        return [Biofix(*r) for r in rows]

    def biofix_version(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT count(*), coalesce(max(set_ms), 0) FROM agronomy_biofix").fetchone()
        return int(row[0]) * 1_000_003 + int(row[1])

    def write_risks(self, rows: list[DayRisk]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO agronomy_risk VALUES (?, ?, ?, ?, ?, ?)",
                    [(r.village, r.site, r.model, r.day, r.risk, _json(r.detail)) for r in rows],
                )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def risks(self, village: str, day: str | None = None) -> list[DayRisk]:
        with self._lock:
            if day is None:
                row = self._db.execute("SELECT max(day) FROM agronomy_risk WHERE village=?", (village,)).fetchone()
                day = row[0]
                if day is None:
                    return []
            rows = self._db.execute(
                "SELECT village, site, model, day, risk, detail FROM agronomy_risk WHERE village=? AND day=? "
                "ORDER BY site, model",
                (village, day),
            ).fetchall()
        return [_row(r) for r in rows]

    def history(self, village: str, site: str, model: str, since: str) -> list[DayRisk]:
        with self._lock:
            rows = self._db.execute(
                "SELECT village, site, model, day, risk, detail FROM agronomy_risk "
                "WHERE village=? AND site=? AND model=? AND day>=? ORDER BY day",
                (village, site, model, since),
            ).fetchall()
        return [_row(r) for r in rows]

    def high_days(self, village: str, first: str, last: str) -> dict[str, tuple[int, dict[str, int]]]:
        where = "FROM agronomy_risk WHERE village=? AND day BETWEEN ? AND ? AND risk=?"
        args = (village, first, last, HIGH)
        with self._lock:
            days = self._db.execute(f"SELECT site, count(DISTINCT day) {where} GROUP BY site", args).fetchall()
            per_model = self._db.execute(f"SELECT site, model, count(*) {where} GROUP BY site, model", args).fetchall()
        models: dict[str, dict[str, int]] = {}
        for site, model, n in per_model:
            models.setdefault(site, {})[model] = int(n)
        return {site: (int(n), models.get(site, {})) for site, n in days}
