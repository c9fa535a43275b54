"""Alert episodes, transitions, silences and the engine snapshot, in the readings' SQLite file.

Its own connection (WAL, busy_timeout) beside the reading store's; the tables
are prefixed `alert_`. `record` writes transitions, episodes and the engine
snapshot in one transaction, so what was recorded and the state that produced
it cannot disagree after a crash.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qingyubiao.alerting import Episode, Silence, State, Transition
from qingyubiao.sqlite import open_sqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_episode(
    id TEXT PRIMARY KEY, rule TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
    audience TEXT NOT NULL, village TEXT NOT NULL, site TEXT NOT NULL, device TEXT NOT NULL,
    metric TEXT NOT NULL, state TEXT NOT NULL, started_ms INTEGER NOT NULL, fired_ms INTEGER,
    ended_ms INTEGER, late INTEGER NOT NULL, value REAL, text_zh TEXT NOT NULL, text_en TEXT NOT NULL,
    ack_by TEXT, ack_ms INTEGER);
CREATE INDEX IF NOT EXISTS alert_episode_open ON alert_episode(ended_ms, village);
CREATE INDEX IF NOT EXISTS alert_episode_started ON alert_episode(started_ms);
CREATE TABLE IF NOT EXISTS alert_transition(
    id INTEGER PRIMARY KEY AUTOINCREMENT, episode TEXT NOT NULL, rule TEXT NOT NULL, kind TEXT NOT NULL,
    severity TEXT NOT NULL, audience TEXT NOT NULL, state TEXT NOT NULL, ts_ms INTEGER NOT NULL,
    village TEXT NOT NULL, site TEXT NOT NULL, device TEXT NOT NULL, metric TEXT NOT NULL,
    value REAL, threshold REAL, late INTEGER NOT NULL, inhibited_by TEXT, silenced_by TEXT,
    eta_min REAL, text_zh TEXT NOT NULL, text_en TEXT NOT NULL, recorded_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS alert_transition_episode ON alert_transition(episode);
CREATE TABLE IF NOT EXISTS alert_silence(
    id TEXT PRIMARY KEY, created_by TEXT NOT NULL, reason TEXT NOT NULL,
    start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,
    village TEXT, site TEXT, rule TEXT, kind TEXT);
CREATE TABLE IF NOT EXISTS alert_snapshot(
    id INTEGER PRIMARY KEY CHECK (id = 1), ts_ms INTEGER NOT NULL, blob BLOB NOT NULL);
"""

_EP_COLS = (
    "id, rule, kind, severity, audience, village, site, device, metric, state, started_ms, fired_ms, ended_ms, "
    "late, value, text_zh, text_en, ack_by, ack_ms"
)
_TR_COLS = (
    "episode, rule, kind, severity, audience, state, ts_ms, village, site, device, metric, value, threshold, "
    "late, inhibited_by, silenced_by, eta_min, text_zh, text_en"
)


def _fields(cols: str, row: Sequence[Any], floats: tuple[str, ...]) -> dict[str, Any]:
    """A row as its dataclass's keywords (the columns are named as the fields): `late` back to a bool, and the
    NULLs that stood for NaN (SQLite has no NaN) back to NaN."""
    fields = dict(zip(cols.split(", "), row, strict=True))
    fields["late"] = bool(fields["late"])
    for name in floats:
        if fields[name] is None:
            fields[name] = float("nan")
    return fields


def _nan_to_none(x: float | None) -> float | None:
    return None if x is None or x != x else x


class SqliteAlertStore:
    """Writer (the collector's alert manager) and reader (API, `qyb alerts`) of alert records."""

    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = open_sqlite(self.path, readonly=readonly)
        if not readonly:
            with self._lock:
                self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- writing ---------------------------------------------------------------------

    def record(
        self, transitions: Sequence[Transition], episodes: Sequence[Episode], snapshot: bytes | None, ts_ms: int
    ) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    f"INSERT INTO alert_transition({_TR_COLS}, recorded_ms) VALUES ({','.join('?' * 20)})",
                    [
                        (t.episode, t.rule, t.kind, t.severity, t.audience, t.state, t.ts_ms, t.village, t.site,
                         t.device, t.metric, _nan_to_none(t.value), _nan_to_none(t.threshold), int(t.late),
                         t.inhibited_by, t.silenced_by, t.eta_min, t.text_zh, t.text_en, ts_ms)
                        for t in transitions
                    ],
                )  # fmt: skip
                # keep an acknowledgement made while the episode was open
                self._db.executemany(
                    f"INSERT INTO alert_episode({_EP_COLS}) VALUES ({','.join('?' * 19)}) "
                    "ON CONFLICT(id) DO UPDATE SET state=excluded.state, fired_ms=excluded.fired_ms, "
                    "ended_ms=excluded.ended_ms, late=excluded.late, value=excluded.value, "
                    "text_zh=excluded.text_zh, text_en=excluded.text_en",
                    [
                        (e.id, e.rule, e.kind, e.severity, e.audience, e.village, e.site, e.device, e.metric,
                         e.state, e.started_ms, e.fired_ms, e.ended_ms, int(e.late), _nan_to_none(e.value),
                         e.text_zh, e.text_en, e.ack_by, e.ack_ms)
                        for e in {e.id: e for e in episodes}.values()
                    ],
                )  # fmt: skip
                if snapshot is not None:
                    self._db.execute(
                        "INSERT INTO alert_snapshot(id, ts_ms, blob) VALUES (1, ?, ?) "
                        "ON CONFLICT(id) DO UPDATE SET ts_ms=excluded.ts_ms, blob=excluded.blob",
                        (ts_ms, snapshot),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # a full disk makes SQLite roll back by itself (then ROLLBACK fails)
                    self._db.execute("ROLLBACK")
                raise

    def acknowledge(self, episode: str, who: str, ts_ms: int) -> bool:
        """True while the episode is open. The first acknowledgement stays: it says who went to look, and when
        (the monthly summary's time to acknowledge); a second tap, or a race of two, changes nothing."""
        with self._lock:
            # one statement: the open check and the first-ack-wins write cannot be split by another writer
            cur = self._db.execute(
                "UPDATE alert_episode SET ack_by=coalesce(ack_by, ?), "
                "ack_ms=CASE WHEN ack_by IS NULL THEN ? ELSE ack_ms END WHERE id=? AND ended_ms IS NULL",
                (who, ts_ms, episode),
            )
            return cur.rowcount > 0

    def save_silence(self, silence: Silence) -> None:
        s = silence
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO alert_silence VALUES (?,?,?,?,?,?,?,?,?)",
                (s.id, s.created_by, s.reason, s.start_ms, s.end_ms, s.village, s.site, s.rule, s.kind),
            )

    def load_snapshot(self) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT blob FROM alert_snapshot WHERE id=1").fetchone()
        return bytes(row[0]) if row else None

    # -- reading ---------------------------------------------------------------------

    def _episodes(self, where: str, args: tuple[object, ...]) -> list[Episode]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_EP_COLS} FROM alert_episode WHERE {where}", args).fetchall()
        return [Episode(**_fields(_EP_COLS, r, ("value",))) for r in rows]

    def episode(self, id: str) -> Episode | None:
        found = self._episodes("id=?", (id,))
        return found[0] if found else None

    def active_episodes(self, village: str | None = None) -> list[Episode]:
        if village is None:
            return self._episodes("ended_ms IS NULL ORDER BY started_ms", ())
        return self._episodes("ended_ms IS NULL AND village=? ORDER BY started_ms", (village,))

    def episodes(self, since_ms: int, until_ms: int | None = None, site: str | None = None) -> list[Episode]:
        until = until_ms if until_ms is not None else 2**62
        if site is None:
            return self._episodes("started_ms >= ? AND started_ms < ? ORDER BY started_ms", (since_ms, until))
        return self._episodes(
            "started_ms >= ? AND started_ms < ? AND site=? ORDER BY started_ms", (since_ms, until, site)
        )

    def episodes_overlapping(self, start_ms: int, end_ms: int) -> list[Episode]:
        """Episodes open at some time in [start, end): started before its end, not ended before its start."""
        return self._episodes(
            "started_ms < ? AND (ended_ms IS NULL OR ended_ms > ?) ORDER BY started_ms", (end_ms, start_ms)
        )

    def firing_episodes(self) -> list[Episode]:
        return self._episodes("ended_ms IS NULL AND state=? ORDER BY started_ms", (State.FIRING.value,))

    def transitions(self, episode: str) -> list[Transition]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_TR_COLS} FROM alert_transition WHERE episode=? ORDER BY id", (episode,)
            ).fetchall()
        return [Transition(**_fields(_TR_COLS, r, ("value", "threshold"))) for r in rows]

    def silences(self, active_at_ms: int | None = None) -> list[Silence]:
        with self._lock:
            if active_at_ms is None:
                rows = self._db.execute("SELECT * FROM alert_silence ORDER BY start_ms").fetchall()
            else:
                rows = self._db.execute(
                    "SELECT * FROM alert_silence WHERE start_ms <= ? AND end_ms > ? ORDER BY start_ms",
                    (active_at_ms, active_at_ms),
                ).fetchall()
        return [Silence(*r) for r in rows]
