"""Login tokens have a lifetime: expired ones are refused with a reason, using the page renews them, old
databases get lifetimes too, and an open live stream ends once its token is revoked or expires."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.users import Refused, UserStore
from qingyubiao.config import ApiSettings, Config
from qingyubiao.series import SeriesIndex
from tests.api.conftest import FARMER, SECRETARY, ApiWorld
from tests.api.test_notices import blocks
from tests.conftest import free_port, wait_port

V = "/api/v1/villages/lijiahe"
DAY = 86_400_000


def test_an_expired_token_is_refused_with_its_reason(world: ApiWorld) -> None:
    ttl = world.users.ttl_ms
    assert ttl == 180 * DAY  # the documented default: half a year
    old = world.users.issue("lijiahe", FARMER, now=world.now_ms - ttl - 1)
    young = world.users.issue("lijiahe", FARMER, now=world.now_ms - ttl + 60_000)
    r = world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {old}"})
    assert r.status_code == 401 and "过期" in r.json()["detail"] and "expired" in r.json()["detail"]
    me = world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {young}"})
    assert me.status_code == 200 and me.json()["token_expires_ms"] == world.now_ms + 60_000
    world.users.revoke_person("lijiahe", FARMER)
    r = world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {young}"})
    assert r.status_code == 401 and "撤销" in r.json()["detail"]
    r = world.client.get("/api/v1/me", headers={"Authorization": "Bearer qyb_nobody"})
    assert r.status_code == 401 and "无效" in r.json()["detail"]


def test_using_the_page_renews_the_token_for_a_full_lifetime(world: ApiWorld) -> None:
    ttl = world.users.ttl_ms
    token = world.users.issue("lijiahe", FARMER, now=world.now_ms - ttl + DAY)  # one day left
    auth = {"Authorization": f"Bearer {token}"}
    assert world.client.get("/api/v1/me", headers=auth).json()["token_expires_ms"] == world.now_ms + DAY
    r = world.client.post("/api/v1/me/renew", headers=auth)
    assert r.status_code == 200
    now = int(time.time() * 1000)  # the app's clock is the wall clock
    assert now - 5_000 <= r.json()["expires_ms"] - ttl <= now
    assert world.client.get("/api/v1/me", headers=auth).json()["token_expires_ms"] == r.json()["expires_ms"]
    listed = {t.hash_prefix: t for t in world.users.tokens("lijiahe")}
    assert any(t.expires_ms == r.json()["expires_ms"] for t in listed.values())
    # an expired token cannot renew itself: a new login link is needed
    dead = world.users.issue("lijiahe", FARMER, now=world.now_ms - ttl - 1)
    assert world.client.post("/api/v1/me/renew", headers={"Authorization": f"Bearer {dead}"}).status_code == 401


def test_tokens_of_a_database_from_before_lifetimes_get_one(village: Config, tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    con = sqlite3.connect(db)
    con.executescript(
        "CREATE TABLE api_token(hash TEXT PRIMARY KEY, village TEXT NOT NULL, person TEXT NOT NULL,"
        " label TEXT NOT NULL, created_ms INTEGER NOT NULL, revoked_ms INTEGER);"
    )
    from api.users import token_hash

    now = int(time.time() * 1000)
    con.executemany(
        "INSERT INTO api_token VALUES (?,?,?,?,?,NULL)",
        [(token_hash("qyb_old"), "lijiahe", FARMER, "", now - 200 * DAY),
         (token_hash("qyb_recent"), "lijiahe", FARMER, "", now - 10 * DAY)],
    )  # fmt: skip
    con.commit()
    con.close()
    users = UserStore(db, village)
    assert users.authenticate("qyb_old") is Refused.EXPIRED
    recent = users.authenticate("qyb_recent")
    assert not isinstance(recent, Refused) and recent.expires_ms == now - 10 * DAY + 180 * DAY
    users.close()


@pytest.fixture
def quick_recheck(world: ApiWorld, village: Config, index: SeriesIndex) -> Iterator[str]:
    """The world's stores behind an app whose streams re-check their token every 0.2 s, served by uvicorn."""
    config = village.model_copy(
        update={"deployment": village.deployment.model_copy(update={"api": ApiSettings(token_recheck_s=0.2)})}
    )
    app = create_app(
        config,
        reader=world.store,
        ingest_log=world.store,
        users=world.users,
        alerts=world.alerts,
        index=index,
        stream_poll_s=0.1,
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def stream_until_end(base: str, token: str, then: object) -> list[dict[str, str]]:
    """Every block of one stream until the server ends it; `then()` runs once the first site event arrived."""
    got: list[dict[str, str]] = []
    with httpx.stream("GET", f"{base}{V}/stream?access_token={token}", timeout=10) as r:
        assert r.status_code == 200
        for b in blocks(r.iter_lines()):
            got.append(b)
            if b.get("event") == "site" and sum(x.get("event") == "site" for x in got) == 1:
                then()  # type: ignore[operator]
    return got


def test_a_revoked_token_ends_an_open_stream(world: ApiWorld, quick_recheck: str) -> None:
    token = world.tokens[SECRETARY]
    revoked_at: list[float] = []

    def revoke() -> None:
        world.users.revoke_person("lijiahe", SECRETARY)
        revoked_at.append(time.monotonic())

    got = stream_until_end(quick_recheck, token, revoke)
    ended = time.monotonic()
    assert any(b.get("event") == "site" for b in got)  # it was a working stream first
    last = got[-1]
    assert last["event"] == "logout" and json.loads(last["data"])["reason"] == "revoked"
    assert ended - revoked_at[0] < 3  # within the re-check interval (0.2 s) and a poll, with room for a slow box
    assert httpx.get(f"{quick_recheck}{V}/stream?access_token={token}").status_code == 401  # no way back in


def test_a_token_expiring_during_a_stream_ends_it(world: ApiWorld, quick_recheck: str) -> None:
    # 4 s left: enough for the stream to open on a loaded machine, then it expires during the stream
    soon = world.users.issue("lijiahe", FARMER, now=int(time.time() * 1000) - world.users.ttl_ms + 4_000)
    got = stream_until_end(quick_recheck, soon, lambda: None)
    assert got[-1]["event"] == "logout" and json.loads(got[-1]["data"])["reason"] == "expired"
    assert "过期" in json.loads(got[-1]["data"])["detail"]
