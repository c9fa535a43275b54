"""The overview's red banner: the box's problems, read from the collector's real /metrics endpoint (the
collector's own Health and gauge behind prometheus_client's HTTP server), for the secretary and admins."""

from __future__ import annotations

import time

import pytest
from prometheus_client import start_http_server

from api.routes import problems
from ingest.health import Health
from ingest.metrics import IngestMetrics
from qingyubiao.health import Part
from tests.api.conftest import ADMIN, FARMER, SECRETARY, ApiWorld
from tests.conftest import free_port

V = "lijiahe"


def watch(world: ApiWorld, port: int) -> None:
    state = world.client.app.state.api  # type: ignore[attr-defined]
    state.config = state.config.model_copy(
        update={"deployment": state.config.deployment.model_copy(update={"metrics_port": port})}
    )
    problems._cache.clear()


def test_the_collectors_problems_reach_the_secretary_and_end(world: ApiWorld) -> None:
    metrics, port = IngestMetrics(), free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    try:
        health = Health(metrics.problem)
        watch(world, port)
        url = f"/api/v1/villages/{V}/problems"
        nothing = {"collector": "reachable", "problems": [], "box": []}
        assert world.client.get(url, headers=world.auth(SECRETARY)).json() == nothing
        health.failing(Part.STORE, "OperationalError: database or disk is full")
        problems._cache.clear()  # (the route asks the collector at most every 5 s)
        got = world.client.get(url, headers=world.auth(ADMIN)).json()
        assert got["collector"] == "reachable"
        (p,) = got["problems"]
        assert p["part"] == "store" and p["detail"] == "OperationalError: database or disk is full"
        assert abs(p["since_ms"] - time.time() * 1000) < 5_000
        assert p["text_zh"].startswith("数据写不进数据库") and "database or disk is full" in p["text_en"]
        health.recovered(Part.STORE)
        problems._cache.clear()
        assert world.client.get(url, headers=world.auth(SECRETARY)).json()["problems"] == []
        assert world.client.get(url, headers=world.auth(FARMER)).status_code == 403
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize(("port", "said"), [(0, "unwatched"), (None, "unreachable")])
def test_a_silent_or_unwatched_collector_is_said_too(world: ApiWorld, port: int | None, said: str) -> None:
    watch(world, free_port() if port is None else port)  # a free port: nothing answers there
    got = world.client.get(f"/api/v1/villages/{V}/problems", headers=world.auth(SECRETARY)).json()
    assert got == {"collector": said, "problems": [], "box": []}
