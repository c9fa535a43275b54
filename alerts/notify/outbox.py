"""The persistent outbox, in the readings' SQLite file (own connection, WAL, busy_timeout; tables `notify_*`).

- `notify_message`: one row per notice, unique on its idempotency key
  (episode | state | recipient | channel): queuing the same transition twice
  (a restart replaying the alert core) leaves one row.
- `notify_send`: one request to a channel carrying one or more messages (a
  site's group, or a digest). Its key is fixed when it is formed, so a retry
  after a failure or a restart sends the same request with the same
  idempotency key. `recovered` = it was in flight when the process died.
- `notify_attempt`: every try, with the outcome (and a row for a try cut off by a restart).
- `notify_episode`: what was paged per alert episode: repeats, escalation, ack.
- `notify_feed` / `notify_ack_ref` / `notify_ack_group` (who a group link names): what the API reads
  (qingyubiao/notifying.py).
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from alerts.notify.notice import Notice
from alerts.notify.routing import Queued
from qingyubiao.alerting import Transition
from qingyubiao.notifying import GROUP, AckRef, FeedEvent
from qingyubiao.sqlite import open_sqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS notify_message(
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, channel TEXT NOT NULL, target TEXT NOT NULL,
    village TEXT NOT NULL, site TEXT NOT NULL, episode TEXT NOT NULL, state TEXT NOT NULL, severity TEXT NOT NULL,
    created_ms INTEGER NOT NULL, due_ms INTEGER NOT NULL, held INTEGER NOT NULL, status TEXT NOT NULL,
    send_id INTEGER, notice TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS notify_message_queue ON notify_message(status, channel, target, id);
CREATE TABLE IF NOT EXISTS notify_send(
    id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, target TEXT NOT NULL, key TEXT NOT NULL,
    created_ms INTEGER NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL,
    last_error TEXT, done_ms INTEGER, recovered INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS notify_send_open ON notify_send(status, channel, target);
CREATE TABLE IF NOT EXISTS notify_attempt(
    id INTEGER PRIMARY KEY AUTOINCREMENT, send_id INTEGER NOT NULL, channel TEXT NOT NULL, target TEXT NOT NULL,
    ts_ms INTEGER NOT NULL, ok INTEGER NOT NULL, retry INTEGER NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS notify_attempt_budget ON notify_attempt(channel, target, ts_ms);
CREATE TABLE IF NOT EXISTS notify_episode(
    episode TEXT PRIMARY KEY, village TEXT NOT NULL, severity TEXT NOT NULL, audience TEXT NOT NULL,
    started_ms INTEGER NOT NULL, first_due_ms INTEGER NOT NULL, last_page_ms INTEGER NOT NULL,
    repeats INTEGER NOT NULL DEFAULT 0, escalated INTEGER NOT NULL DEFAULT 0, acked INTEGER NOT NULL DEFAULT 0,
    closed INTEGER NOT NULL DEFAULT 0, transition TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notify_feed(
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, person TEXT NOT NULL, village TEXT NOT NULL,
    site TEXT NOT NULL, episode TEXT NOT NULL, state TEXT NOT NULL, severity TEXT NOT NULL, ts_ms INTEGER NOT NULL,
    text_zh TEXT NOT NULL, text_en TEXT NOT NULL, ack_url TEXT);
CREATE INDEX IF NOT EXISTS notify_feed_person ON notify_feed(person, id);
CREATE TABLE IF NOT EXISTS notify_ack_ref(
    ref TEXT PRIMARY KEY, episode TEXT NOT NULL, person TEXT NOT NULL, village TEXT NOT NULL,
    created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS notify_ack_group(
    ref TEXT NOT NULL, ord INTEGER NOT NULL, person TEXT NOT NULL, PRIMARY KEY(ref, person));
"""

_START = re.compile(r"@(\d+)$")


def started_ms(t: Transition) -> int:
    """When the episode began: the alert core names episodes rule/village/device/metric@start."""
    m = _START.search(t.episode)
    return int(m.group(1)) if m else t.ts_ms


@dataclass(frozen=True, slots=True)
class Send:
    id: int
    channel: str
    target: str
    key: str
    created_ms: int
    status: str
    attempts: int
    next_ms: int
    notices: list[Notice]
    recovered: bool = False  # in flight at a restart: resent, and where the receiver cannot dedup, marked as such


@dataclass(frozen=True, slots=True)
class Pending:
    """A queued message not yet part of a send."""

    id: int
    site: str
    due_ms: int
    held: bool
    notice: Notice


@dataclass(frozen=True, slots=True)
class OpenEpisode:
    episode: str
    village: str
    severity: str
    audience: str
    started_ms: int
    first_due_ms: int
    last_page_ms: int
    repeats: int
    escalated: bool
    transition: Transition


class Outbox:
    def __init__(self, path: str | Path, readonly: bool = False, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = open_sqlite(
            self.path, readonly=readonly, synchronous="NORMAL" if synchronous == "NORMAL" else "FULL"
        )
        if not readonly:
            with self._lock:
                self._db.executescript(SCHEMA)  # older tables are brought up to date by qingyubiao/schema.py

    def close(self) -> None:
        self._db.close()

    def _tx(self) -> _Tx:
        return _Tx(self._db, self._lock)

    # -- queueing -------------------------------------------------------------------------

    def enqueue(self, transition: Transition, queued: Sequence[Queued], now_ms: int) -> int:
        """Store the notices of one transition (idempotent); returns how many were new."""
        t = transition
        with self._tx() as db:
            new = 0
            for q in queued:
                n = q.notice
                cur = db.execute(
                    "INSERT OR IGNORE INTO notify_message(key, channel, target, village, site, episode, state, "
                    "severity, created_ms, due_ms, held, status, notice) VALUES (?,?,?,?,?,?,?,?,?,?,?,'queued',?)",
                    (n.key, n.channel, n.target, n.village, n.site, n.episode, n.state, n.severity, now_ms,
                     q.due_ms, int(q.held), n.to_json()),
                )  # fmt: skip
                new += cur.rowcount
                if q.ack is not None:
                    self._register_ack(db, q, now_ms)
            if t.state == "firing" and queued:
                # when people were first told (a held warning: in the morning); machines do not count
                to_people = [q.due_ms for q in queued if q.notice.channel not in ("mqtt", "feed")]
                first_due = min(to_people, default=now_ms)
                db.execute(
                    "INSERT OR IGNORE INTO notify_episode(episode, village, severity, audience, started_ms, "
                    "first_due_ms, last_page_ms, transition) VALUES (?,?,?,?,?,?,?,?)",
                    (t.episode, t.village, t.severity, t.audience, started_ms(t), first_due, first_due,
                     json.dumps(asdict(t), ensure_ascii=False)),
                )  # fmt: skip
            elif t.state in ("resolved", "cancelled"):
                db.execute("UPDATE notify_episode SET closed=1 WHERE episode=?", (t.episode,))
            return new

    @staticmethod
    def _register_ack(db: sqlite3.Connection, q: Queued, now_ms: int) -> None:
        """The link's reference; for a group link also the people its message names (who may say "that's me")."""
        assert q.ack is not None
        db.execute("INSERT OR IGNORE INTO notify_ack_ref VALUES (?,?,?,?,?)", (*q.ack, now_ms))
        db.executemany(
            "INSERT OR IGNORE INTO notify_ack_group VALUES (?,?,?)",
            [(q.ack[0], i, person) for i, person in enumerate(q.ack_people)],
        )

    def enqueue_followup(self, episode: str, queued: Sequence[Queued], now_ms: int, repeat: bool) -> None:
        with self._tx() as db:
            for q in queued:
                n = q.notice
                db.execute(
                    "INSERT OR IGNORE INTO notify_message(key, channel, target, village, site, episode, state, "
                    "severity, created_ms, due_ms, held, status, notice) VALUES (?,?,?,?,?,?,?,?,?,?,0,'queued',?)",
                    (n.key, n.channel, n.target, n.village, n.site, n.episode, n.state, n.severity, now_ms,
                     q.due_ms, n.to_json()),
                )  # fmt: skip
                if q.ack is not None:
                    self._register_ack(db, q, now_ms)
            if repeat:
                db.execute(
                    "UPDATE notify_episode SET repeats=repeats+1, last_page_ms=? WHERE episode=?", (now_ms, episode)
                )
            else:
                db.execute("UPDATE notify_episode SET escalated=1 WHERE episode=?", (episode,))

    def was_paged(self, episode: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM notify_episode WHERE episode=?", (episode,)).fetchone() is not None

    def mark_acked(self, episodes: Iterable[str]) -> None:
        with self._tx() as db:
            db.executemany("UPDATE notify_episode SET acked=1 WHERE episode=?", [(e,) for e in episodes])

    def open_episodes(self) -> list[OpenEpisode]:
        with self._lock:
            rows = self._db.execute(
                "SELECT episode, village, severity, audience, started_ms, first_due_ms, last_page_ms, repeats, "
                "escalated, transition FROM notify_episode WHERE closed=0 AND acked=0 ORDER BY started_ms"
            ).fetchall()
        out = []
        for r in rows:
            head: tuple[str, str, str, str, int, int, int, int] = r[:8]  # typed, so mypy can check the fields
            out.append(OpenEpisode(*head, bool(r[8]), Transition(**json.loads(r[9]))))
        return out

    # -- dispatching ------------------------------------------------------------------------

    def targets(self, now_ms: int) -> list[tuple[str, str]]:
        """(channel, target) pairs with an open send or a due message."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT channel, target FROM notify_send WHERE status IN ('sending', 'retry') "
                "UNION SELECT DISTINCT channel, target FROM notify_message WHERE status='queued' AND due_ms<=?",
                (now_ms,),
            ).fetchall()
        return sorted((r[0], r[1]) for r in rows)

    def open_send(self, channel: str, target: str) -> Send | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, channel, target, key, created_ms, status, attempts, next_ms, recovered FROM notify_send "
                "WHERE channel=? AND target=? AND status IN ('sending', 'retry') ORDER BY id LIMIT 1",
                (channel, target),
            ).fetchone()
            if row is None:
                return None
            notices = [
                Notice.from_json(r[0])
                for r in self._db.execute("SELECT notice FROM notify_message WHERE send_id=? ORDER BY id", (row[0],))
            ]
        head: tuple[int, str, str, str, int, str, int, int] = row[:8]
        return Send(*head, notices=notices, recovered=bool(row[8]))

    def pending(self, channel: str, target: str, now_ms: int) -> list[Pending]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, site, due_ms, held, notice FROM notify_message "
                "WHERE channel=? AND target=? AND status='queued' AND due_ms<=? ORDER BY id",
                (channel, target, now_ms),
            ).fetchall()
        return [Pending(r[0], r[1], r[2], bool(r[3]), Notice.from_json(r[4])) for r in rows]

    def form_send(self, channel: str, target: str, message_ids: Sequence[int], now_ms: int) -> Send:
        """Fix the composition and key of one request before it is tried."""
        with self._tx() as db:
            keys = [r[0] for r in db.execute(
                f"SELECT key FROM notify_message WHERE id IN ({','.join('?' * len(message_ids))}) ORDER BY id",
                tuple(message_ids))]  # fmt: skip
            key = keys[0] if len(keys) == 1 else f"digest|{channel}|{target}|{keys[0]}|{len(keys)}"
            cur = db.execute(
                "INSERT INTO notify_send(channel, target, key, created_ms, status, next_ms) "
                "VALUES (?,?,?,?,'sending',?)",
                (channel, target, key, now_ms, now_ms),
            )
            send_id = int(cur.lastrowid or 0)
            db.executemany(
                "UPDATE notify_message SET status='sending', send_id=? WHERE id=? AND status='queued'",
                [(send_id, i) for i in message_ids],
            )
        send = self.open_send(channel, target)
        assert send is not None and send.id == send_id
        return send

    def begin_attempt(self, send: Send) -> None:
        """A retry is about to go out: mark it in flight again, so a crash during it is recovered like a first try."""
        if send.status != "sending":
            with self._tx() as db:
                db.execute("UPDATE notify_send SET status='sending' WHERE id=? AND status='retry'", (send.id,))

    def record_attempt(
        self, send: Send, now_ms: int, ok: bool, retry: bool, detail: str, next_ms: int, give_up: bool
    ) -> str:
        """Record one try; returns the send's new status: sent, retry or failed."""
        status = "sent" if ok else ("retry" if retry and not give_up else "failed")
        with self._tx() as db:
            db.execute(
                "INSERT INTO notify_attempt(send_id, channel, target, ts_ms, ok, retry, detail) VALUES (?,?,?,?,?,?,?)",
                (send.id, send.channel, send.target, now_ms, int(ok), int(retry), detail[:500]),
            )
            db.execute(
                "UPDATE notify_send SET status=?, attempts=attempts+1, next_ms=?, last_error=?, done_ms=? WHERE id=?",
                (status, next_ms, None if ok else detail[:500], now_ms if status != "retry" else None, send.id),
            )
            if status != "retry":
                db.execute("UPDATE notify_message SET status=? WHERE send_id=?", (status, send.id))
        return status

    def recover(self, now_ms: int) -> list[tuple[str, str]]:
        """After a restart: every request that was in flight (`sending`: tried, no answer recorded) is due again
        now, ahead of anything newer for its target, flagged `recovered`; the cut-off try gets an attempt row
        (it may have reached the receiver, and it counts in the robots' budget). Returns their (channel, target).

        Idempotent receivers dedup the resend by its key; the others may show it twice, so their channels mark
        a recovered send as a possible repeat: a labelled duplicate at worst, never a lost alert."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT id, channel, target FROM notify_send WHERE status='sending' ORDER BY id"
            ).fetchall()
            for send_id, channel, target in rows:
                db.execute(
                    "INSERT INTO notify_attempt(send_id, channel, target, ts_ms, ok, retry, detail) "
                    "VALUES (?,?,?,?,0,1,'no answer: in flight when the process stopped; resent')",
                    (send_id, channel, target, now_ms),
                )
                # the cut-off try counts like any other: the backoff and the give-up log go by `attempts`
                db.execute(
                    "UPDATE notify_send SET status='retry', attempts=attempts+1, next_ms=?, recovered=1 WHERE id=?",
                    (now_ms, send_id),
                )
            return [(r[1], r[2]) for r in rows]

    def attempts_since(self, channel: str, target: str | None, since_ms: int) -> list[int]:
        """Times of the attempts on `channel` (to `target`, or to any) after `since_ms`."""
        sql = "SELECT ts_ms FROM notify_attempt WHERE channel=? AND ts_ms>?"
        args: tuple[object, ...] = (channel, since_ms)
        if target is not None:
            sql, args = sql + " AND target=?", (*args, target)
        with self._lock:
            return [r[0] for r in self._db.execute(sql + " ORDER BY ts_ms", args)]

    def waiting(self, now_ms: int) -> tuple[int, int | None]:
        """Messages due and not yet delivered, and when the oldest of them fell due (`qyb status`)."""
        with self._lock:
            n, oldest = self._db.execute(
                "SELECT count(*), min(due_ms) FROM notify_message WHERE status IN ('queued', 'sending') AND due_ms<=?",
                (now_ms,),
            ).fetchone()
        return int(n), None if oldest is None else int(oldest)

    def status_counts(self) -> dict[str, int]:
        """Messages by status: queued, sending, retry (its request failed and waits for the next try), sent,
        failed; `uncertain` only in outboxes from before in-flight requests were resent."""
        # only `sending` rows need their request's status: the rest are counted from notify_message alone
        with self._lock:
            rows = self._db.execute(
                "SELECT status, count(*) FROM notify_message WHERE status!='sending' GROUP BY status "
                "UNION ALL SELECT CASE WHEN s.status='retry' THEN 'retry' ELSE 'sending' END, count(*) "
                "FROM notify_message m LEFT JOIN notify_send s ON s.id=m.send_id WHERE m.status='sending' GROUP BY 1"
            ).fetchall()
        counts: dict[str, int] = {}
        for status, n in rows:
            counts[status] = counts.get(status, 0) + n
        return counts

    # -- the feed and ack references (read by the API) --------------------------------------

    def add_feed(self, notices: Sequence[Notice], texts: Sequence[tuple[str, str]]) -> None:
        with self._tx() as db:
            db.executemany(
                "INSERT OR IGNORE INTO notify_feed(key, person, village, site, episode, state, severity, ts_ms, "
                "text_zh, text_en, ack_url) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [(n.key, n.target, n.village, n.site, n.episode, n.state, n.severity, n.ts_ms, zh, en, n.ack_url)
                 for n, (zh, en) in zip(notices, texts, strict=True)],
            )  # fmt: skip

    def _read(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query of the API's tables; none when they do not exist yet (a reader opened before the
        collector made them)."""
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.OperationalError as e:
                if "no such table" in str(e):
                    return []
                raise

    def events_since(
        self, after_id: int, person: str | None = None, limit: int = 100, village: str | None = None
    ) -> list[FeedEvent]:
        sql = (
            "SELECT id, key, person, village, site, episode, state, severity, ts_ms, text_zh, text_en, ack_url "
            "FROM notify_feed WHERE id>?"
        )
        args: tuple[object, ...] = (after_id,)
        if person is not None:
            sql += " AND person=?"
            args += (person,)
        if village is not None:  # before the LIMIT: person ids (e.g. "secretary") repeat across villages
            sql += " AND village=?"
            args += (village,)
        return [FeedEvent(*r) for r in self._read(sql + " ORDER BY id LIMIT ?", (*args, limit))]

    def newest_id(self) -> int:
        rows = self._read("SELECT coalesce(max(id), 0) FROM notify_feed")
        return int(rows[0][0]) if rows else 0

    def resolve(self, ref: str) -> AckRef | None:
        rows = self._read("SELECT ref, episode, person, village FROM notify_ack_ref WHERE ref=?", (ref,))
        if not rows:
            return None
        found = AckRef(*rows[0])
        if found.person != GROUP:
            return found
        named = self._read("SELECT person FROM notify_ack_group WHERE ref=? ORDER BY ord", (ref,))
        return replace(found, people=tuple(r[0] for r in named))


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT under the outbox lock; ROLLBACK on any error."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self.db, self.lock = db, lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self.lock.release()
