"""Hostile query values on every route that parses one: always a 4xx with a message, never a 500."""

from __future__ import annotations

import json
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.routes.stream import resume_after
from tests.api.conftest import ADMIN, SECRETARY, ApiWorld

V = "/api/v1/villages/lijiahe"
HOSTILE = [
    "99999999999999999999999",  # past SQLite's 64-bit integers
    "18446744073709551616",
    "-99999999999d",  # timedelta overflow
    "-99999999999999999999h",
    "9" * 5000,  # past int()'s 4300-digit limit
    "-1",
    "",
    " ",
    "²",  # isdigit() but not int()
    "١٢٣",
    "日期",
    "nan",
    "1e400",
    "0001-01-01",  # no timestamp east of UTC
    "9999-12-31T23:59:59-12:00",
    "9999-12",
    "0001-01",
    "\x00",
]
ROUTES = [
    f"{V}/sites/gh01/history?metric=air_temp_c&start={{}}",
    f"{V}/sites/gh01/history?metric=air_temp_c&start=-2h&end={{}}",
    f"{V}/sites/gh01/history?metric=air_temp_c&step_ms={{}}",
    f"{V}/sites/gh01/history?metric={{}}",
    f"{V}/alerts?status=all&start={{}}",
    f"{V}/alerts?status=past&end={{}}",
    f"{V}/alerts?limit={{}}",
    f"{V}/export.csv?start={{}}",
    f"{V}/export.csv?end={{}}&site=gh01",
    f"{V}/export.csv?site={{}}",
    f"{V}/summary?month={{}}",
    f"{V}/silences?active={{}}",
    f"{V}/sites/{{}}/latest",
    "/api/v1/deadletters?limit={}",
]


def test_hostile_query_values_are_4xx_with_a_message(world: ApiWorld) -> None:
    client = TestClient(world.client.app, raise_server_exceptions=False)  # a 500 as an answer, to list them all
    failures = []
    for route in ROUTES:
        for value in HOSTILE:
            url = route.format(quote(value, safe=""))
            r = client.get(url, headers=world.auth(ADMIN if "deadletters" in url else SECRETARY))
            if r.status_code >= 500 or (r.status_code >= 400 and not r.json().get("detail")):
                failures.append((url[:100], r.status_code, r.text[:80]))
    assert failures == []


@pytest.mark.parametrize("duration", ["1e400", "NaN", "-Infinity", "1e30"])
def test_hostile_silence_durations_are_422(world: ApiWorld, duration: str) -> None:
    body = '{"reason": "换传感器", "duration_min": ' + duration + "}"
    headers = {**world.auth(SECRETARY), "Content-Type": "application/json"}
    r = world.client.post(f"{V}/silences", content=body, headers=headers)
    assert r.status_code == 422 and "duration_min" in r.json()["detail"]
    assert json.loads(r.text)  # valid JSON


class _Feed:
    def newest_id(self) -> int:
        return 7


@pytest.mark.parametrize(("last_id", "after"), [("²", 7), ("9" * 5000, 7), ("-1", 7), ("abc", 7), ("", 7), ("3", 3)])
def test_a_hostile_last_event_id_resumes_after_the_newest(last_id: str, after: int) -> None:
    # int('²') and int() of 5000 digits raised before the stream started: a 500
    assert resume_after(SimpleNamespace(feed=_Feed()), last_id) == after  # type: ignore[arg-type]
