"""Bounds on what a request may carry: body size (413, before reading), query length (414), text and list
lengths (422), unknown query parameters (422), and every error in the one documented shape."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn

from api.limits import MAX_BODY_BYTES, MAX_QUERY_BYTES
from tests.api.conftest import FARMER, SECRETARY, ApiWorld
from tests.conftest import free_port, wait_port

V = "/api/v1/villages/lijiahe"


def bilingual(body: dict[str, object]) -> bool:
    detail = body["detail"]
    return isinstance(detail, str) and " / " in detail and any("\u4e00" <= ch <= "\u9fff" for ch in detail)


def test_a_50_mb_silence_reason_is_refused_and_nothing_is_stored(world: ApiWorld) -> None:
    body = '{"reason": "' + "修" * (50 * 1024 * 1024 // 3) + '", "duration_min": 30}'
    r = world.client.post(
        f"{V}/silences", content=body.encode(), headers={**world.auth(SECRETARY), "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and bilingual(r.json()) and str(MAX_BODY_BYTES) in r.json()["detail"]
    too_long = world.client.post(
        f"{V}/silences", json={"reason": "x" * 201, "duration_min": 30}, headers=world.auth(SECRETARY)
    )
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["where"] == "body.reason"
    assert world.alerts.silences() == []
    ok = world.client.post(
        f"{V}/silences", json={"reason": "修棚膜", "duration_min": 30}, headers=world.auth(SECRETARY)
    )
    assert ok.status_code == 201
    assert len(world.client.get(f"{V}/silences", headers=world.auth(FARMER)).content) < 1_000


def test_a_chunked_body_without_length_is_refused_once_it_crosses_the_limit(world: ApiWorld) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"reason": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b"x" * 1024
        yield b'", "duration_min": 30}'

    r = world.client.post(
        f"{V}/silences", content=chunks(), headers={**world.auth(SECRETARY), "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and bilingual(r.json())
    assert world.alerts.silences() == []


@pytest.fixture
def served(world: ApiWorld) -> Iterator[int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(world.client.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(port)
    yield port
    server.should_exit = True
    thread.join(5)


def test_a_large_content_length_is_answered_before_the_body_is_sent(world: ApiWorld, served: int) -> None:
    token = world.tokens[SECRETARY]
    head = (
        f"POST {V}/silences HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {50 * 1024 * 1024}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", served), timeout=5) as s:
        s.sendall(head.encode())  # and not one byte of the 50 MB
        answer = s.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 413"), answer[:200]


def test_query_strings_are_bounded(world: ApiWorld) -> None:
    sites = "&".join(["site=gh01"] * 300)
    r = world.client.get(f"{V}/export.csv?{sites}", headers=world.auth(SECRETARY))
    assert len(sites) > MAX_QUERY_BYTES and r.status_code == 414 and bilingual(r.json())
    r = world.client.get(f"{V}/alerts?kind={'k' * 65}", headers=world.auth(SECRETARY))
    assert r.status_code == 422 and r.json()["errors"][0]["where"] == "query.kind"
    r = world.client.get(f"{V}/export.csv?site=gh01&site=gh03", headers=world.auth(SECRETARY))
    assert r.status_code == 200


def test_an_unknown_query_parameter_is_named_not_ignored(world: ApiWorld) -> None:
    # `sit=` for `site=`: ignored, the export would have been every site of the village
    r = world.client.get(f"{V}/export.csv?sit=gh03", headers=world.auth(SECRETARY))
    assert r.status_code == 422 and r.json()["errors"] == [
        {"where": "query.sit", "problem": "unknown query parameter", "problem_zh": "不认识的参数"}
    ]
    # the two routes a browser opens by link take the token in the query
    token = world.tokens[SECRETARY]
    assert world.client.get(f"{V}/export.csv?site=gh03&access_token={token}").status_code == 200


def test_people_are_bounded_too(world: ApiWorld) -> None:
    person: dict[str, object] = {"id": "li-new", "name": "李" * 65, "phone": "13900000000", "role": "farmer"}
    r = world.client.post(f"{V}/people", json=person, headers=world.auth(SECRETARY))
    assert r.status_code == 422 and r.json()["errors"][0]["where"] == "body.name"
    person = {**person, "name": "李新", "watch": ["gh01"] * 1_001}
    r = world.client.post(f"{V}/people", json=person, headers=world.auth(SECRETARY))
    assert r.status_code == 422 and r.json()["errors"][0]["where"] == "body.watch"
    r = world.client.post(f"{V}/people", json={**person, "watch": ["gh99"]}, headers=world.auth(SECRETARY))
    assert r.status_code == 404 and "gh99" in r.json()["detail"]


def test_every_error_is_one_shape_in_two_languages(world: ApiWorld) -> None:
    answers = [
        world.client.get("/api/v1/nothing-here", headers=world.auth(FARMER)),  # 404 of the router itself
        world.client.delete(f"{V}/sites", headers=world.auth(FARMER)),  # 405
        world.client.get(f"{V}/sites/gh01/history", headers=world.auth(FARMER)),  # 422: no metric
        world.client.post(f"{V}/silences", content=b"\xff\xfe", headers=world.auth(SECRETARY)),  # 422: not text
        world.client.get(f"{V}/sites", headers={"Authorization": "Bearer nope"}),  # 401
        world.client.get(f"{V}/people", headers=world.auth(FARMER)),  # 403
    ]
    assert [r.status_code for r in answers] == [404, 405, 422, 422, 401, 403]
    for r in answers:
        assert bilingual(r.json()), r.text


def test_the_openapi_document_is_where_people_look_for_it(world: ApiWorld) -> None:
    r = world.client.get("/openapi.json", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/api/v1/openapi.json"
    r = world.client.head("/openapi.json", follow_redirects=False)  # curl -I
    assert r.status_code == 308 and r.headers["location"] == "/api/v1/openapi.json"
    r = world.client.get("/docs", follow_redirects=False)  # where FastAPI apps keep their docs page
    assert r.status_code == 308 and r.headers["location"] == "/api/v1/docs"
    assert "swagger-ui" in world.client.get("/docs").text
    doc = world.client.get("/openapi.json").json()
    [metrics_type] = doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert metrics_type.startswith("text/plain")  # Prometheus text, not JSON
    export = doc["paths"]["/api/v1/villages/{village}/export.csv"]["get"]["responses"]
    assert "text/csv" in export["200"]["content"] and {"401", "404", "413", "414", "422"} <= set(export)
    assert {"403", "409"} <= set(doc["paths"]["/api/v1/villages/{village}/rules/overrides"]["put"]["responses"])
