"""People added at run time and their API tokens, in the readings' SQLite file.

A token is shown once when issued; only its sha256 is stored, so a copy of the
database does not let anyone log in. A token lives `token_ttl_days` from its last
renewal (the page renews it when it is opened, at most once a day), so an
abandoned phone's token ends by itself; revoking ends it at once. People from the village config need no
row here; people added with `qyb users add` (or by the secretary) live in
`api_person` and count as if they were in the config.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from qingyubiao.config import Config, Person
from qingyubiao.sqlite import open_sqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_person(
    village TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY(village, id));
CREATE TABLE IF NOT EXISTS api_token(
    hash TEXT PRIMARY KEY, village TEXT NOT NULL, person TEXT NOT NULL, label TEXT NOT NULL,
    created_ms INTEGER NOT NULL, revoked_ms INTEGER, expires_ms INTEGER);
"""

TOKEN_PREFIX = "qyb_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class PersonExists(ValueError):
    """A person with this id is in the config or was added before: replacing them is deliberate, not a POST."""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    hash_prefix: str  # enough to name a token when revoking it, never enough to use it
    village: str
    person: str
    label: str
    created_ms: int
    revoked_ms: int | None
    expires_ms: int


@dataclass(frozen=True, slots=True)
class Session:
    """Who a valid token belongs to, and until when it works."""

    village: str
    person: Person
    token_hash: str
    expires_ms: int


class Refused(StrEnum):
    """Why a token does not let its holder in."""

    UNKNOWN = "unknown"
    REVOKED = "revoked"
    EXPIRED = "expired"


def now_ms() -> int:
    return int(time.time() * 1000)


class UserStore:
    """Tokens (hashed) and run-time people, beside the readings."""

    def __init__(self, path: str | Path, config: Config) -> None:
        self.config = config
        self.ttl_ms = int(config.deployment.api.token_ttl_days * 86_400_000)
        self._lock = threading.Lock()
        self._db = open_sqlite(path, synchronous="FULL")  # a token or person the API said yes to outlives a power cut
        with self._lock:
            self._db.executescript(SCHEMA)
            # tokens issued before lifetimes (schema version 1 added the column) live one lifetime from
            # when they were issued
            self._db.execute(
                "UPDATE api_token SET expires_ms = created_ms + ? WHERE expires_ms IS NULL", (self.ttl_ms,)
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- people ----------------------------------------------------------------------

    def people(self, village: str) -> list[Person]:
        """The config's people of a village, then those added at run time (which may replace them)."""
        v = self.config.village_by_id(village)
        with self._lock:
            rows = self._db.execute("SELECT body FROM api_person WHERE village=? ORDER BY id", (village,)).fetchall()
        added = [Person.model_validate(json.loads(r[0])) for r in rows]
        ids = {p.id for p in added}
        return [p for p in v.person if p.id not in ids] + added

    def person(self, village: str, person_id: str) -> Person | None:
        return next((p for p in self.people(village) if p.id == person_id), None)

    def add_person(self, village: str, person: Person, replace: bool = False) -> None:
        """Add a person; an existing id (config or added) raises PersonExists unless `replace` (`qyb users add`)."""
        v = self.config.village_by_id(village)
        known_sites = {s.id for s in v.site}
        unknown = [s for s in (*person.sites, *person.watch) if s not in known_sites]
        if unknown:
            raise ValueError(f"unknown site(s) {', '.join(unknown)} in village {village}")
        if person.household and person.household not in {h.id for h in v.household}:
            raise ValueError(f"unknown household {person.household!r} in village {village}")
        exists = PersonExists(f"已有此人 / person {person.id!r} already exists in {village}")
        if not replace and any(p.id == person.id for p in v.person):
            raise exists
        verb = "INSERT OR REPLACE" if replace else "INSERT"  # plain INSERT: the primary key refuses a second add
        with self._lock:
            try:
                self._db.execute(
                    f"{verb} INTO api_person VALUES (?,?,?)", (village, person.id, person.model_dump_json())
                )
            except sqlite3.IntegrityError:
                raise exists from None

    # -- tokens ----------------------------------------------------------------------

    def issue(self, village: str, person_id: str, label: str = "", now: int | None = None) -> str:
        """A new token for a person, valid for one lifetime; returned once, stored hashed."""
        if self.person(village, person_id) is None:
            raise ValueError(f"no person {person_id!r} in village {village}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(24)
        t = now_ms() if now is None else now
        with self._lock:
            self._db.execute(
                "INSERT INTO api_token VALUES (?,?,?,?,?,NULL,?)",
                (token_hash(token), village, person_id, label, t, t + self.ttl_ms),
            )
        return token

    def renew(self, session: Session, now: int | None = None) -> int:
        """Another full lifetime from now for a valid token; returns the new expiry (ms)."""
        expires = (now_ms() if now is None else now) + self.ttl_ms
        with self._lock:
            self._db.execute(
                "UPDATE api_token SET expires_ms = max(expires_ms, ?) WHERE hash = ? AND revoked_ms IS NULL",
                (expires, session.token_hash),
            )
        return expires

    def revoke(self, hash_prefix: str) -> int:
        """Revoke the tokens whose hash starts with the prefix (at least 8 hex digits). Returns how many."""
        if len(hash_prefix) < 8:
            raise ValueError("give at least 8 characters of the token's hash")
        with self._lock:
            cur = self._db.execute(
                "UPDATE api_token SET revoked_ms=? WHERE hash LIKE ? AND revoked_ms IS NULL",
                (int(time.time() * 1000), hash_prefix.lower() + "%"),
            )
        return cur.rowcount

    def revoke_person(self, village: str, person_id: str) -> int:
        with self._lock:
            cur = self._db.execute(
                "UPDATE api_token SET revoked_ms=? WHERE village=? AND person=? AND revoked_ms IS NULL",
                (int(time.time() * 1000), village, person_id),
            )
        return cur.rowcount

    def tokens(self, village: str | None = None) -> list[TokenInfo]:
        sql = "SELECT substr(hash, 1, 12), village, person, label, created_ms, revoked_ms, expires_ms FROM api_token"
        with self._lock:
            if village is None:
                rows = self._db.execute(sql + " ORDER BY created_ms").fetchall()
            else:
                rows = self._db.execute(sql + " WHERE village=? ORDER BY created_ms", (village,)).fetchall()
        return [TokenInfo(*r) for r in rows]

    def authenticate(self, token: str, now: int | None = None) -> Session | Refused:
        """Who holds a valid (known, unrevoked, unexpired) token, or why it is refused."""
        return self.check(token_hash(token), now)

    def check(self, hashed: str, now: int | None = None) -> Session | Refused:
        """`authenticate` by the token's hash: an open live stream re-checks the token it was opened with."""
        with self._lock:
            row = self._db.execute(
                "SELECT village, person, revoked_ms, expires_ms FROM api_token WHERE hash=?", (hashed,)
            ).fetchone()
        if row is None:
            return Refused.UNKNOWN
        village, person_id, revoked_ms, expires_ms = row
        if revoked_ms is not None:
            return Refused.REVOKED
        if expires_ms <= (now_ms() if now is None else now):
            return Refused.EXPIRED
        try:
            person = self.person(village, person_id)
        except KeyError:  # the village left the config
            return Refused.UNKNOWN
        return Session(village, person, hashed, expires_ms) if person else Refused.UNKNOWN
