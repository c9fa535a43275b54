"""确认灌溉 through the API: a farmer asks their block's valve to open; what the API can check (the limits,
a lock) is refused at once with the reason, the rest waits for the collector; advice-only blocks and blocks
without a valve cannot be commanded; a lock is set and lifted and audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.store.sqlite_water import SqliteWaterBook
from qingyubiao.series import SeriesIndex
from tests.api.conftest import FARMER, OTHER_FARMER, SECRETARY, ApiWorld, build_world
from tests.notify.conftest import notify_config

V = "/api/v1/villages/lijiahe"


@pytest.fixture
def valve_world(tmp_path: Path) -> Iterator[ApiWorld]:
    def edit(raw: dict[str, Any]) -> None:
        v = raw["village"][0]
        v["device"].append({"id": "gh01-valve", "site": "gh01", "metrics": ["bat_v"]})
        for site in v["site"]:
            if site["id"] == "gh01":
                site["irrigation"] |= {"valve": "gh01-valve", "mode": "confirm", "max_open_min": 60}

    config = notify_config(edit=edit)
    yield from build_world(config, SeriesIndex(config), tmp_path)


def test_a_farmer_confirms_and_the_request_waits_for_the_collector(valve_world: ApiWorld) -> None:
    w = valve_world
    r = w.client.post(f"{V}/sites/gh01/irrigation/request", json={"minutes": 30}, headers=w.auth(FARMER))
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "pending" and r.json()["minutes"] == 30
    book = SqliteWaterBook(w.db)
    [pending] = book.pending("lijiahe")
    assert (pending.site, pending.duration_s, pending.by, pending.reason) == ("gh01", 1800, FARMER, "确认灌溉")
    book.close()
    log = w.client.get(f"{V}/irrigation/audit?site=gh01", headers=w.auth(FARMER)).json()
    assert log[0]["kind"] == "requested" and log[0]["detail"]["duration_s"] == 1800


@pytest.mark.parametrize(
    ("site", "body", "status", "says"),
    [
        ("gh01", {"minutes": 61}, 400, "单次最长 60 分钟"),
        ("gh01", {"minutes": 0}, 422, "greater than 0"),
        ("gh01", {"minutes": 14400}, 422, "less than or equal"),  # ten days
        ("gh01", {"minutes": 10, "fertigation_l": 5}, 400, "未启用水肥一体化"),
        ("gh01", {"minutes": 10, "frost": True}, 400, "未启用防霜灌溉"),
        ("gh02", {"minutes": 10}, 400, "no valve controller"),
        ("or01", {"minutes": 10}, 400, "no valve controller"),
    ],
)
def test_what_the_api_can_check_is_refused_at_once(
    valve_world: ApiWorld, site: str, body: dict[str, object], status: int, says: str
) -> None:
    r = valve_world.client.post(f"{V}/sites/{site}/irrigation/request", json=body, headers=valve_world.auth(SECRETARY))
    assert r.status_code == status and says in r.text, r.text
    book = SqliteWaterBook(valve_world.db)
    assert book.pending("lijiahe") == []  # nothing for the collector to send
    book.close()


def test_a_locked_line_refuses_until_unlocked_and_another_household_cannot(valve_world: ApiWorld) -> None:
    w = valve_world
    assert (
        w.client.post(
            f"{V}/sites/gh01/irrigation/lock", json={"reason": "换滴灌带"}, headers=w.auth(FARMER)
        ).status_code
        == 201
    )
    r = w.client.post(f"{V}/sites/gh01/irrigation/request", json={"minutes": 10}, headers=w.auth(SECRETARY))
    assert r.status_code == 400 and "管路已被 li-jianjun 锁定" in r.text
    assert w.client.delete(f"{V}/sites/gh01/irrigation/lock", headers=w.auth(FARMER)).json()["locked_by"] is None
    assert (
        w.client.post(f"{V}/sites/gh01/irrigation/request", json={"minutes": 10}, headers=w.auth(SECRETARY)).status_code
        == 202
    )
    assert w.client.post(f"{V}/sites/gh01/irrigation/request", json={"minutes": 10},
                         headers=w.auth(OTHER_FARMER)).status_code == 404  # fmt: skip
    kinds = [e["kind"] for e in w.client.get(f"{V}/irrigation/audit", headers=w.auth(SECRETARY)).json()]
    assert kinds == ["requested", "unlocked", "locked"]


def test_an_advice_only_block_cannot_be_commanded(valve_world: ApiWorld, tmp_path: Path) -> None:
    def edit(raw: dict[str, Any]) -> None:
        v = raw["village"][0]
        v["device"].append({"id": "gh01-valve", "site": "gh01", "metrics": ["bat_v"]})
        for site in v["site"]:
            if site["id"] == "gh01":
                site["irrigation"] |= {"valve": "gh01-valve"}  # mode: advice (the default)

    config = notify_config(edit=edit)
    for w in build_world(config, SeriesIndex(config), tmp_path / "advice"):
        r = w.client.post(f"{V}/sites/gh01/irrigation/request", json={"minutes": 10}, headers=w.auth(FARMER))
        assert r.status_code == 409 and "advice mode" in r.text
