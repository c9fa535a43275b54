"""Notices on the live stream: the outbox's feed rows, written by the real feed channel, reach each person's
phone page as `notice` events with ids, never another person's, and a reconnect resumes without repeats."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import uvicorn

from tests.api.conftest import FARMER, OTHER_FARMER, ApiWorld, Paging
from tests.conftest import free_port, wait_port

V = "/api/v1/villages/lijiahe"
Block = dict[str, str]


@pytest.fixture
def base(world: ApiWorld) -> Iterator[str]:
    """The world's app served by uvicorn: a stream needs a real server (it never ends)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(world.client.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def blocks(lines: Iterator[str]) -> Iterator[Block]:
    """SSE blocks as field → value (comments skipped), as an EventSource parses them."""
    block: Block = {}
    for line in lines:
        if not line:
            if block:
                yield block
            block = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            block[name] = value.removeprefix(" ")


def read(
    base: str, world: ApiWorld, who: str, until: Callable[[list[Block]], bool], last_id: str | None = None,
    then: Callable[[], None] | None = None,
) -> list[Block]:  # fmt: skip
    """Blocks of one stream until `until` holds; `then` runs once the stream has started."""
    headers = {"Last-Event-ID": last_id} if last_id is not None else {}
    got: list[Block] = []
    url = f"{base}{V}/stream?access_token={world.tokens[who]}"
    deadline = time.monotonic() + 10
    with httpx.stream("GET", url, headers=headers, timeout=10) as r:
        assert r.status_code == 200
        for b in blocks(r.iter_lines()):
            got.append(b)
            if len(got) == 1 and then is not None:
                then()
            if until(got):
                return got
            assert time.monotonic() < deadline, got
    raise AssertionError(f"the stream ended: {got}")


def notices(got: list[Block]) -> list[tuple[int, dict[str, object]]]:
    return [(int(b["id"]), json.loads(b["data"])) for b in got if b.get("event") == "notice"]


def test_notices_reach_their_person_only_and_a_new_stream_replays_no_history(
    base: str, world: ApiWorld, paging: Paging
) -> None:
    old = paging.fire("gh01", severity="warning", minutes_ago=600)  # before the page was opened
    newest = world.outbox.newest_id()
    fired: list[str] = []

    def page() -> None:  # while both streams are open: the other farmer's alert first, then the farmer's
        fired.append(paging.fire("gh03", severity="warning"))
        fired.append(paging.fire("gh02", severity="warning"))

    mine = read(base, world, FARMER, lambda g: any(e["episode"] in fired[1:] for _, e in notices(g)), then=page)
    assert mine[0] == {"retry": "5000", "id": str(newest)}  # where a reconnect resumes, even before any notice
    [(nid, notice)] = notices(mine)
    assert notice["episode"] == fired[1] != old and notice["site_name"] == "2号棚" and notice["state"] == "firing"
    assert str(notice["text_zh"]).startswith("2号棚 气温 38.2℃，已超过 35℃")
    assert str(notice["text_en"]).startswith("2号棚 (gh02) air temperature 38.2 °C")
    assert notice["severity"] == "warning" and "ack_url" not in notice  # the page acknowledges through the API
    feed = world.outbox.events_since(0, FARMER)
    assert nid == feed[-1].id and {e.person for e in feed} == {FARMER}

    theirs = read(base, world, OTHER_FARMER, lambda g: bool(notices(g)), last_id=str(newest))
    assert [e["episode"] for _, e in notices(theirs)] == [fired[0]]  # never the farmer's gh01 or gh02


def test_last_event_id_resumes_without_repeats_or_gaps(base: str, world: ApiWorld, paging: Paging) -> None:
    start = world.outbox.newest_id()
    first = paging.fire("gh01")
    got = read(base, world, FARMER, lambda g: bool(notices(g)), last_id=str(start))
    [(first_id, notice)] = notices(got)
    assert notice["episode"] == first
    # the phone loses its connection; meanwhile two more alerts, one of them not the farmer's
    later = [paging.fire("gh02"), paging.fire("gh03"), paging.fire("gh01", severity="warning", minutes_ago=5)]
    again = read(base, world, FARMER, lambda g: len(notices(g)) >= 2, last_id=str(first_id))
    ids = [i for i, _ in notices(again)]
    assert [e["episode"] for _, e in notices(again)] == [later[0], later[2]] and ids == sorted(ids)
    assert first_id < ids[0]  # the first notice is not sent again
    # a stream given the whole history (Last-Event-ID 0) still shows only the farmer's own
    everything = read(base, world, FARMER, lambda g: len(notices(g)) >= 3, last_id="0")
    assert [e["episode"] for _, e in notices(everything)] == [first, later[0], later[2]]


def test_a_bad_or_future_last_event_id_starts_at_the_newest(base: str, world: ApiWorld, paging: Paging) -> None:
    paging.fire("gh01")
    newest = world.outbox.newest_id()
    for sent in ("banana", "999999"):
        got = read(base, world, FARMER, lambda g: "id" in g[0], last_id=sent)
        assert got[0]["id"] == str(newest), sent


def test_a_quiet_stream_is_kept_open_by_comments_and_sends_chinese_as_utf8(
    base: str, world: ApiWorld, paging: Paging, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FastAPI's SSE keepalive (15 s in production), made short so the test sees two of them on a quiet stream
    monkeypatch.setattr("fastapi.routing._PING_INTERVAL", 0.3)
    url = f"{base}{V}/stream?access_token={world.tokens[FARMER]}"
    lines: list[str] = []
    with httpx.stream("GET", url, headers={"Last-Event-ID": str(world.outbox.newest_id())}, timeout=10) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache" and r.headers["x-accel-buffering"] == "no"
        raw = r.iter_lines()
        while sum(line.startswith(":") for line in lines) < 2:  # the sites are sent once; then it is quiet
            lines.append(next(raw))
        paging.fire("gh01")
        while not any(line.startswith("event: notice") for line in lines):
            lines.append(next(raw))
        lines.append(next(raw))  # the notice's data line
    assert ": ping" in lines
    data = next(line for line in reversed(lines) if line.startswith("data: "))
    assert "1号棚" in data and "\\u" not in data  # three bytes a character on 4G, not six of escape
