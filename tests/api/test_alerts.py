"""Alerts: active and past with filters, acknowledge with a tap, silences; and the live stream."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import quote

import httpx
import httpx2
import uvicorn

from qingyubiao.config import Person
from tests.api.conftest import ADMIN, FARMER, HOUR, OTHER_FARMER, SECRETARY, ApiWorld, episode
from tests.conftest import free_port, wait_port

V = "/api/v1/villages/lijiahe"


def test_active_and_past_alerts_with_filters(world: ApiWorld) -> None:
    mine = world.client.get(f"{V}/alerts", headers=world.auth(FARMER)).json()
    assert [a["id"] for a in mine] == ["ep-gh01"] and mine[0]["site_name"] == "1号棚"
    every = world.client.get(f"{V}/alerts", headers=world.auth(SECRETARY)).json()
    assert {a["id"] for a in every} == {"ep-gh01", "ep-gh03"}
    warn = world.client.get(f"{V}/alerts?severity=warning", headers=world.auth(SECRETARY)).json()
    assert [a["id"] for a in warn] == ["ep-gh03"]
    past = world.client.get(f"{V}/alerts?status=past&start=-2d", headers=world.auth(FARMER)).json()
    assert [(a["id"], a["ack_by"]) for a in past] == [("ep-old", FARMER)]
    none = world.client.get(f"{V}/alerts?status=past&start=-2h", headers=world.auth(FARMER)).json()
    assert none == []
    bad = world.client.get(f"{V}/alerts?status=soon", headers=world.auth(FARMER))
    assert bad.status_code == 422


def test_active_alerts_are_the_fired_ones_in_the_list_the_sites_and_the_counts(world: ApiWorld) -> None:
    """Pending episodes (a condition still waiting out its duration) used to be listed as active, while the
    pages counted only the firing ones: the overview's badge said 2 where `status=active` listed 4."""
    now = world.now_ms
    pending = [
        episode("ep-gh01-wait", "gh01", "gh01-air", "air_rh_pct", now - 120_000, state="pending", fired_ms=None),
        episode("ep-gh03-wait", "gh03", "gh03-air", "air_rh_pct", now - 60_000, state="pending", fired_ms=None),
    ]
    world.alerts.record([], pending, None, now)
    active = world.client.get(f"{V}/alerts?status=active", headers=world.auth(SECRETARY)).json()
    assert {a["id"]: a["state"] for a in active} == {"ep-gh01": "firing", "ep-gh03": "firing"}
    assert world.client.get(f"{V}/alerts", headers=world.auth(SECRETARY)).json() == active  # active: the default
    waiting = world.client.get(f"{V}/alerts?status=pending", headers=world.auth(SECRETARY)).json()
    assert {a["id"] for a in waiting} == {"ep-gh01-wait", "ep-gh03-wait"}
    mine = world.client.get(f"{V}/alerts?status=pending", headers=world.auth(FARMER)).json()
    assert [a["id"] for a in mine] == ["ep-gh01-wait"]
    sites = world.client.get(f"{V}/sites", headers=world.auth(SECRETARY)).json()
    counts = {s["id"]: s["active_alerts"] for s in sites if s["active_alerts"]}
    assert counts == {"gh01": 1, "gh03": 1} and sum(counts.values()) == len(active)
    one = world.client.get(f"{V}/sites/gh01", headers=world.auth(FARMER)).json()
    assert one["active_alerts"] == 1
    everything = world.client.get(f"{V}/alerts?status=all&start=-2d", headers=world.auth(SECRETARY)).json()
    assert {"ep-gh01-wait", "ep-gh01", "ep-old"} <= {a["id"] for a in everything}


def test_an_admin_acknowledges_device_alerts_only(world: ApiWorld) -> None:
    """docs/design.md: an acknowledgement stops a crop alert's reminders and escalation; the admin maintains
    devices (and is paged for device-health alerts, with an ack link in their name), not crops."""
    now = world.now_ms
    offline = episode("ep-gh03-offline", "gh03", "gh03-air", "air_temp_c", now - HOUR, kind="device_offline",
                      audience="maintainer", severity="warning", rule="device-offline")  # fmt: skip
    world.alerts.record([], [offline], None, now)
    r = world.client.post(f"{V}/alerts/ep-gh03/ack", headers=world.auth(ADMIN))
    assert r.status_code == 403 and "admins acknowledge device-health alerts only" in r.json()["detail"]
    assert {e.id: e.ack_by for e in world.alerts.active_episodes("lijiahe")}["ep-gh03"] is None  # nothing stored
    r = world.client.post(f"{V}/alerts/ep-gh03-offline/ack", headers=world.auth(ADMIN))
    assert r.status_code == 200 and r.json()["ack_by"] == ADMIN
    r = world.client.post(f"{V}/alerts/ep-gh03/ack", headers=world.auth(SECRETARY))
    assert r.status_code == 200 and r.json()["ack_by"] == SECRETARY


def test_a_farmer_acknowledges_an_own_alert_once_it_is_recorded(world: ApiWorld) -> None:
    r = world.client.post(f"{V}/alerts/ep-gh01/ack", headers=world.auth(FARMER))
    assert r.status_code == 200 and r.json()["ack_by"] == FARMER
    stored = {e.id: e for e in world.alerts.active_episodes("lijiahe")}
    assert stored["ep-gh01"].ack_by == FARMER and stored["ep-gh01"].ack_ms is not None
    assert stored["ep-gh03"].ack_by is None  # the other farmer's alert is untouched
    assert world.client.post(f"{V}/alerts/ep-old/ack", headers=world.auth(FARMER)).status_code == 404  # ended


def test_episode_ids_with_slashes_are_acknowledged_by_their_encoded_path(world: ApiWorld) -> None:
    eid = "tomato-cold-emergency/lijiahe/gh01-air/air_temp_c@1763800000000"  # the alert core's id shape
    world.alerts.record([], [episode(eid, "gh01", "gh01-air", "air_temp_c", world.now_ms)], None, world.now_ms)
    r = world.client.post(f"{V}/alerts/{quote(eid, safe='')}/ack", headers=world.auth(FARMER))
    assert r.status_code == 200 and r.json()["id"] == eid and r.json()["ack_by"] == FARMER


def test_silences_are_created_listed_and_expired_by_the_secretary(world: ApiWorld) -> None:
    body = {"reason": "3号棚换传感器", "duration_min": 60, "site": "gh03"}
    created = world.client.post(f"{V}/silences", json=body, headers=world.auth(SECRETARY)).json()
    assert created["active"] and created["end_ms"] - created["start_ms"] == HOUR and created["created_by"] == SECRETARY
    active = world.client.get(f"{V}/silences?active=true", headers=world.auth(OTHER_FARMER)).json()
    assert [s["id"] for s in active] == [created["id"]]  # gh03's farmer sees it; gh01's does not (test_roles.py)
    assert world.client.get(f"{V}/silences?active=true", headers=world.auth(FARMER)).json() == []
    ended = world.client.post(f"{V}/silences/{created['id']}/expire", headers=world.auth(SECRETARY))
    assert ended.status_code == 200 and not ended.json()["active"]
    assert world.client.get(f"{V}/silences?active=true", headers=world.auth(SECRETARY)).json() == []
    assert len(world.alerts.silences()) == 1  # kept for the record
    for bad, code in (
        ({"reason": "x", "duration_min": 0}, 422),  # the document says so: duration_min > 0
        ({"reason": " ", "duration_min": 5}, 422),
        ({"reason": "x" * 201, "duration_min": 5}, 422),
        ({"reason": "x", "duration_min": 5, "site": "gh99"}, 404),
        ({"duration_min": 5}, 422),
    ):
        assert world.client.post(f"{V}/silences", json=bad, headers=world.auth(SECRETARY)).status_code == code
    assert world.client.post(f"{V}/silences/nope/expire", headers=world.auth(SECRETARY)).status_code == 404


def test_silences_for_an_unknown_rule_kind_or_site_are_refused(world: ApiWorld) -> None:
    # they were 201 and silenced nothing, while the secretary thought the alert quiet
    def post(**kw: object) -> httpx2.Response:
        body = {"reason": "换传感器", "duration_min": 30, **kw}
        return world.client.post(f"{V}/silences", json=body, headers=world.auth(SECRETARY))

    r = post(rule="tomato-cold-warnig")
    assert r.status_code == 404 and "tomato-cold-warnig" in r.json()["detail"]
    r = post(kind="air_temp_hihg")
    assert r.status_code == 422 and r.json()["errors"][0]["where"] == "body.kind"
    zh, en = r.json()["detail"].split(" / ")
    assert zh.startswith("请求参数不对：body.kind 应为 'air_temp_high'、")
    assert en.startswith("invalid request: body.kind")
    r = post(site="gh99")
    assert r.status_code == 404 and "gh99" in r.json()["detail"]
    assert world.alerts.silences() == []
    ok = post(rule="tomato-cold-warning", kind="frost", site="gh01")
    assert ok.status_code == 201 and (ok.json()["rule"], ok.json()["kind"]) == ("tomato-cold-warning", "frost")
    assert [(s.rule, s.kind) for s in world.alerts.silences()] == [("tomato-cold-warning", "frost")]


def test_people_added_by_the_secretary_can_get_a_token_and_log_in(world: ApiWorld) -> None:
    person = {"id": "li-new", "name": "李新", "phone": "13900000000", "role": "farmer", "sites": ["gh05"]}
    assert world.client.post(f"{V}/people", json=person, headers=world.auth(SECRETARY)).status_code == 201
    bad = dict(person, sites=["gh99"])
    r = world.client.post(f"{V}/people", json=bad, headers=world.auth(SECRETARY))
    assert r.status_code == 404 and "gh99" in r.json()["detail"]
    token = world.users.issue("lijiahe", "li-new")
    assert token.startswith("qyb_") and token not in world.db.read_bytes().decode("latin-1")  # stored hashed
    me = world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["name"] == "李新" and me["sites"] == ["gh05"]


def test_adding_an_existing_person_is_409_and_changes_nothing(world: ApiWorld) -> None:
    def listed() -> dict[str, dict[str, object]]:
        return {p["id"]: p for p in world.client.get(f"{V}/people", headers=world.auth(SECRETARY)).json()}

    before = listed()
    new = {"id": "li-new", "name": "李新", "phone": "13900000000", "role": "farmer", "sites": ["gh05"]}
    assert world.client.post(f"{V}/people", json=new, headers=world.auth(SECRETARY)).status_code == 201
    for typo in (
        {"id": FARMER, "name": "李建军", "phone": "13900000001", "role": "farmer"},  # from the config: no household
        {"id": ADMIN, "name": "技术员", "phone": "13900000002", "role": "farmer"},  # would demote the admin
        dict(new, sites=["gh06"]),  # added earlier
    ):
        r = world.client.post(f"{V}/people", json=typo, headers=world.auth(SECRETARY))
        assert r.status_code == 409 and typo["id"] in r.json()["detail"], r.text
    after = listed()
    assert after == {**before, "li-new": after["li-new"]} and after["li-new"]["sites"] == ["gh05"]
    # `qyb users add` replaces on purpose ("add (or replace)")
    world.users.add_person("lijiahe", Person.model_validate(dict(new, sites=["gh06"])), replace=True)
    assert listed()["li-new"]["sites"] == ["gh06"]


def test_the_stream_sends_sites_then_alert_transitions(world: ApiWorld) -> None:
    app = world.client.app
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(port)
    events: list[tuple[str, dict[str, object]]] = []
    # a pending episode is not an alert yet: neither sent nor counted (as `GET alerts` does not list it)
    wait = episode("ep-wait", "gh03", "gh03-air", "air_rh_pct", world.now_ms, state="pending", fired_ms=None)
    world.alerts.record([], [wait], None, world.now_ms)
    url = f"http://127.0.0.1:{port}{V}/stream?access_token={world.tokens[OTHER_FARMER]}"
    try:
        with httpx.stream("GET", url, timeout=10) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            name = ""
            deadline = time.monotonic() + 10
            for line in r.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    events.append((name, json.loads(line[6:])))
                    if name == "alert" and len([e for e in events if e[0] == "alert"]) == 1:
                        # a new episode on the caller's site appears while the stream is open
                        world.alerts.record(
                            [], [episode("ep-new", "gh03", "gh03-air", "air_rh_pct", world.now_ms)], None, world.now_ms
                        )
                    if name == "alert" and events[-1][1]["id"] == "ep-new":
                        break
                assert time.monotonic() < deadline, events
    finally:
        server.should_exit = True
        thread.join(5)
    sites = [(d["id"], d["active_alerts"]) for n, d in events if n == "site"]
    # the caller's two sites, then gh03 again once its new alert counts
    assert sites == [("gh03", 1), ("gh04", 0), ("gh03", 2)]
    alerts = [d["id"] for n, d in events if n == "alert"]
    assert alerts == ["ep-gh03", "ep-new"]


def test_the_stream_needs_a_token(world: ApiWorld) -> None:
    assert world.client.get(f"{V}/stream").status_code == 401
    assert world.client.get(f"{V}/stream?access_token=qyb_wrong").status_code == 401
