"""Role × route × expected status: who may read and change what, and that no answer to a farmer names a site
of another household, with data on every site in the store so a leak would show."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import threading
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from starlette.routing import Mount

from api.params import _CONVERTER
from qingyubiao.config import load_config
from tests.api.conftest import ADMIN, FARMER, HOUR, OTHER_FARMER, SECRETARY, ApiWorld, episode
from tests.conftest import free_port, wait_port

V = "/api/v1/villages/lijiahe"
TODAY = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()  # a biofix must not be in the future

# (method, path, json body or None, {who: status}); "none" = no token. Every /api/v1 row names all five
# callers (test_every_api_row_names_every_caller), so a new route is tried by each role.
F, F2, S, A, N = FARMER, OTHER_FARMER, SECRETARY, ADMIN, "none"
TABLE: list[tuple[str, str, object, dict[str, int]]] = [
    ("GET", "/api/v1/me", None, {F: 200, F2: 200, S: 200, A: 200, N: 401}),
    ("GET", "/api/v1/villages", None, {F: 200, F2: 200, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/sites", None, {F: 200, F2: 200, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/sites/gh01", None, {F: 200, F2: 404, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/sites/gh03/latest", None, {F: 404, F2: 200, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/sites/gh03/history?metric=air_temp_c", None, {F: 404, F2: 200, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/devices", None, {F: 200, F2: 200, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/quarantine", None, {F: 403, F2: 403, S: 403, A: 200, N: 401}),
    ("GET", "/api/v1/deadletters", None, {F: 403, F2: 403, S: 403, A: 200, N: 401}),
    ("GET", f"{V}/export.csv", None, {F: 200, F2: 200, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/export.csv?site=gh03", None, {F: 404, F2: 200, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/alerts", None, {F: 200, F2: 200, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/alerts?status=all", None, {F: 200, F2: 200, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/alerts?status=pending", None, {F: 200, F2: 200, S: 200, A: 200, N: 401}),
    # a crop alert: farmers of the site and the secretary; an admin acknowledges device-health alerts only
    ("POST", f"{V}/alerts/ep-gh03/ack", None, {F: 404, F2: 200, S: 200, A: 403, N: 401}),
    ("POST", f"{V}/alerts/ep-gh03-offline/ack", None, {F: 404, F2: 200, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/silences", None, {F: 200, F2: 200, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/silences?active=true", None, {F: 200, F2: 200, S: 200, A: 200, N: 401}),
    (
        "POST",
        f"{V}/silences",
        {"reason": "换传感器", "duration_min": 30},
        {F: 403, F2: 403, S: 201, A: 403, N: 401},
    ),
    ("POST", f"{V}/silences/no-such/expire", None, {F: 403, F2: 403, S: 404, A: 403, N: 401}),
    ("GET", f"{V}/people", None, {F: 403, F2: 403, S: 200, A: 200, N: 401}),
    (
        "POST",
        f"{V}/people",
        {"id": "li-new", "name": "李新", "phone": "13900000000", "role": "farmer"},
        {F: 403, F2: 403, S: 201, A: 403, N: 401},
    ),
    ("GET", f"{V}/summary", None, {F: 403, F2: 403, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/rules", None, {F: 200, F2: 200, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/profiles", None, {F: 200, F2: 200, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/sites/gh03/rules", None, {F: 404, F2: 200, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/rules/overrides", None, {F: 200, F2: 200, S: 200, A: 200, N: 401}),
    (
        "PUT",
        f"{V}/rules/overrides",
        {"site": "gh01", "rule": "tomato-cold-warning", "night": 8.0},
        {F: 403, F2: 403, S: 200, A: 403, N: 401},
    ),
    ("POST", "/api/v1/me/renew", None, {F: 200, F2: 200, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/tokens", None, {F: 403, F2: 403, S: 403, A: 200, N: 401}),
    ("POST", f"{V}/people/li-guohua/tokens", None, {F: 403, F2: 403, S: 403, A: 201, N: 401}),
    ("DELETE", f"{V}/tokens/ffffffff", None, {F: 403, F2: 403, S: 403, A: 404, N: 401}),
    ("GET", f"{V}/risks", None, {F: 200, F2: 200, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/biofix", None, {F: 200, F2: 200, S: 200, A: 200, N: 401}),
    (
        "POST",
        f"{V}/sites/gh03/biofix",
        {"pest": "codling_moth", "day": TODAY},
        {F: 404, F2: 201, S: 201, A: 201, N: 401},
    ),
    (
        "POST",
        f"{V}/sites/gh01/irrigation",
        {"day": TODAY, "minutes": 10},
        {F: 201, F2: 404, S: 201, A: 201, N: 401},
    ),
    ("GET", f"{V}/irrigation/audit", None, {F: 200, F2: 200, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/irrigation/audit.csv", None, {F: 200, F2: 200, S: 200, A: 200, N: 401}),
    (  # the bundled gh01 has no valve: a 400 for those who may ask, not found for another household
        "POST",
        f"{V}/sites/gh01/irrigation/request",
        {"minutes": 10},
        {F: 400, F2: 404, S: 400, A: 400, N: 401},
    ),
    ("POST", f"{V}/sites/gh01/irrigation/lock", {"reason": "检修"}, {F: 201, F2: 404, S: 201, A: 201, N: 401}),
    ("DELETE", f"{V}/sites/gh01/irrigation/lock", None, {F: 200, F2: 404, S: 200, A: 200, N: 401}),
    ("GET", f"{V}/problems", None, {F: 403, F2: 403, S: 200, A: 200, N: 401}),
    ("GET", "/api/v1/villages/other/sites", None, {F: 404, F2: 404, S: 404, A: 404, N: 401}),
    ("GET", "/healthz", None, {N: 200, F: 200}),
    ("GET", "/metrics", None, {N: 200}),
]

CASES = [(m, p, b, who, code) for m, p, b, expect in TABLE for who, code in expect.items()]
FARMERS = (FARMER, OTHER_FARMER)

# a village rule of gh24 alone, and one of gh01 and gh24: a farmer of gh01 sees the second, naming gh01 only
VILLAGE_RULES = """
[[rule]]
id = "gh24-own-heat"
kind = "air_temp_high"
severity = "warning"
metric = "air_temp_c"
when = "above"
day = 33.0
scope = { site = ["gh24"] }

[[rule]]
id = "shared-heat"
kind = "air_temp_high"
severity = "warning"
metric = "air_temp_c"
when = "above"
day = 34.0
scope = { site = ["gh01", "gh24"], device = ["gh01-air", "gh24-air"] }
"""


@pytest.fixture(scope="module")
def village_data(shared_world: ApiWorld) -> ApiWorld:
    """Something of every kind on gh24 (nobody's here but the secretary's) and on gh03 (the other farmer's),
    beside the world's own: alerts firing, pending, past and for maintainers, silences of a site and of the
    whole village, a village rule and overrides, biofixes, irrigations and a lock. Made as the collector and
    the secretary make them, so every list has something a farmer of gh01 must not see."""
    w = shared_world
    (w.db.parent / "rules.toml").write_text(VILLAGE_RULES, encoding="utf-8")
    now = w.now_ms
    w.alerts.record(
        [],
        [
            episode("ep-gh24", "gh24", "gh24-air", "air_temp_c", now - HOUR),
            episode("ep-gh24-pending", "gh24", "gh24-air", "air_rh_pct", now - 60_000, state="pending", fired_ms=None),
            episode("ep-gh24-past", "gh24", "gh24-air", "air_temp_c", now - 5 * HOUR, state="resolved",
                    ended_ms=now - 4 * HOUR),
            episode("ep-gh03-offline", "gh03", "gh03-air", "air_temp_c", now - HOUR, kind="device_offline",
                    audience="maintainer", severity="warning", rule="device-offline"),
        ],
        None,
        now,
    )  # fmt: skip
    secretary = w.auth(SECRETARY)
    for made in (
        ("POST", f"{V}/silences", {"reason": "修棚膜", "duration_min": 60, "site": "gh24"}),
        ("POST", f"{V}/silences", {"reason": "换传感器", "duration_min": 60, "site": "gh03"}),
        ("POST", f"{V}/silences", {"reason": "全村停电检修", "duration_min": 60}),
        ("PUT", f"{V}/rules/overrides", {"site": "gh24", "rule": "tomato-cold-warning", "night": 7.0}),
        ("PUT", f"{V}/rules/overrides", {"site": "gh03", "rule": "tomato-cold-warning", "night": 6.0}),
        ("POST", f"{V}/sites/gh24/biofix", {"pest": "codling_moth", "day": TODAY}),
        ("POST", f"{V}/sites/or01/biofix", {"pest": "codling_moth", "day": TODAY}),
        ("POST", f"{V}/sites/or01/irrigation", {"day": TODAY, "minutes": 15}),  # gh24 has no irrigation
        ("POST", f"{V}/sites/gh24/irrigation/lock", {"reason": "换滴灌带"}),
    ):
        r = w.client.request(made[0], made[1], json=made[2], headers=secretary)
        assert r.status_code in (200, 201), (made, r.text)
    return w


@cache
def _site_patterns() -> list[tuple[str, re.Pattern[str]]]:
    """Each site of the village by its id (also inside device and episode ids: gh03-air) or its name."""
    out = []
    for site in load_config().village_by_id("lijiahe").site:
        name = re.escape(site.name)
        out.append((site.id, re.compile(rf"(?<![A-Za-z0-9]){site.id}(?![0-9])|(?<![0-9]){name}")))
    return out


def sites_named(text: str) -> set[str]:
    return {site for site, pattern in _site_patterns() if pattern.search(text)}


@cache
def visible(who: str) -> set[str]:
    village = load_config().village_by_id("lijiahe")
    return {s.id for s in village.sites_of(next(p for p in village.person if p.id == who))}


@pytest.mark.parametrize(
    ("method", "path", "body", "who", "status"), CASES, ids=[f"{c[3]}-{c[0]}-{c[1]}" for c in CASES]
)
def test_role_route_status(village_data: ApiWorld, method: str, path: str, body: object, who: str, status: int) -> None:
    headers = {} if who == "none" else village_data.auth(who)
    r = village_data.client.request(method, path, json=body, headers=headers)
    assert r.status_code == status, r.text
    if status >= 400:
        assert isinstance(r.json()["detail"], str) and r.json()["detail"]  # a message, not just a code
    elif who in FARMERS:  # JSON, CSV or text: nothing in it may name another household's site
        leaked = sites_named(r.text) - visible(who)
        assert leaked == set(), f"{who} is told about {sorted(leaked)}: {r.text[:500]}"


# village-wide lists a farmer reads: the secretary's answer must name a site each farmer cannot see, so the
# farmers' answers (checked above) would show a leak. /villages answers only a count of sites.
LISTS = [p for m, p, _, e in TABLE if m == "GET" and p.startswith("/api/v1") and e.get(F) == e.get(F2) == 200]
NO_SITE_DATA = {"/api/v1/villages"}


@pytest.mark.parametrize("path", [p for p in LISTS if p not in NO_SITE_DATA])
def test_every_list_a_farmer_reads_has_other_households_data_in_the_store(village_data: ApiWorld, path: str) -> None:
    r = village_data.client.get(path, headers=village_data.auth(SECRETARY))
    assert r.status_code == 200, r.text
    named = sites_named(r.text)
    assert named - visible(FARMER) and named - visible(OTHER_FARMER), r.text[:500]


def test_every_api_row_names_every_caller() -> None:
    for method, path, _, expect in TABLE:
        if path.startswith("/api/v1"):
            assert set(expect) == {F, F2, S, A, N}, (method, path)


def test_a_farmer_sees_the_silences_of_own_sites_and_of_the_whole_village_only(village_data: ApiWorld) -> None:
    """The issue's case: the secretary silences gh24; another farmer's list does not name it."""

    def listed(who: str) -> set[tuple[str | None, str]]:
        r = village_data.client.get(f"{V}/silences", headers=village_data.auth(who))
        assert r.status_code == 200, r.text
        return {(s["site"], s["reason"]) for s in r.json()}

    made = {("gh24", "修棚膜"), ("gh03", "换传感器"), (None, "全村停电检修")}
    assert listed(SECRETARY) >= made and listed(ADMIN) >= made
    other = listed(OTHER_FARMER)  # a village-wide silence silences gh03 and gh04 too: it is listed
    assert other >= {("gh03", "换传感器"), (None, "全村停电检修")} and {site for site, _ in other} == {"gh03", None}
    farmer = listed(FARMER)
    assert (None, "全村停电检修") in farmer and {site for site, _ in farmer} == {None}


def test_a_farmer_sees_own_sites_overrides_and_the_rules_that_can_apply_to_them(village_data: ApiWorld) -> None:
    def get(who: str, what: str) -> Any:
        r = village_data.client.get(f"{V}/{what}", headers=village_data.auth(who))
        assert r.status_code == 200, r.text
        return r.json()

    assert {o["site"] for o in get(SECRETARY, "rules/overrides")} >= {"gh03", "gh24"}
    assert {o["site"] for o in get(OTHER_FARMER, "rules/overrides")} == {"gh03"}
    assert [o["site"] for o in get(FARMER, "rules/overrides") if o["site"] != "gh01"] == []
    secretary = {r["id"]: r for r in get(SECRETARY, "rules")}
    farmer = {r["id"]: r for r in get(FARMER, "rules")}
    assert secretary["gh24-own-heat"]["scope"]["site"] == ["gh24"] and "gh24-own-heat" not in farmer
    assert secretary["shared-heat"]["scope"]["site"] == ["gh01", "gh24"]
    assert farmer["shared-heat"]["scope"]["site"] == ["gh01"]  # in force on gh01: kept, naming gh01 only
    assert farmer["shared-heat"]["scope"]["device"] == ["gh01-air"]
    assert secretary.keys() - farmer.keys() == {"gh24-own-heat"}  # the crop profiles are everyone's
    profiles = get(FARMER, "profiles")
    assert "gh24-own-heat" not in {r["id"] for rules in profiles.values() for r in rules}


def test_the_live_stream_tells_a_farmer_only_about_own_sites(village_data: ApiWorld) -> None:
    """The stream is the one list the table cannot call (it never ends): its first events, for each role."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(village_data.client.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(port)

    def first_events(who: str) -> str:
        text = []
        url = f"http://127.0.0.1:{port}{V}/stream?access_token={village_data.tokens[who]}"
        # the first poll sends everything at once; a second of quiet (the world polls every 0.2 s) ends it
        with httpx.stream("GET", url, timeout=httpx.Timeout(10, read=1.0)) as r:
            assert r.status_code == 200
            with contextlib.suppress(httpx.ReadTimeout):
                for line in r.iter_lines():
                    text.append(line)
        return "\n".join(text)

    try:
        seen = {who: first_events(who) for who in (FARMER, OTHER_FARMER, SECRETARY)}
    finally:
        server.should_exit = True
        thread.join(5)
    for who in FARMERS:
        assert "event: site" in seen[who] and sites_named(seen[who]) <= visible(who), seen[who]
    assert "ep-gh03" in seen[OTHER_FARMER] and "ep-gh24" in seen[SECRETARY]  # alerts are there to leak


def test_a_revoked_or_made_up_token_is_refused(world: ApiWorld) -> None:
    assert world.client.get("/api/v1/me", headers={"Authorization": "Bearer qyb_nonsense"}).status_code == 401
    prefix = world.users.tokens("lijiahe")[0].hash_prefix
    r = world.client.delete(f"{V}/tokens/{prefix}", headers=world.auth(ADMIN))
    assert r.status_code == 200 and r.json() == {"revoked": 1}
    assert world.client.get("/api/v1/me", headers=world.auth(FARMER)).status_code == 401
    assert world.client.get("/api/v1/me", headers=world.auth(SECRETARY)).status_code == 200


def app_routes(routes: list[Any], prefix: str = "") -> set[tuple[str, str]]:
    """(method, path template) of every route the app answers, schema or not, through included routers."""
    out: set[tuple[str, str]] = set()
    for r in routes:
        if hasattr(r, "original_router"):  # FastAPI's included router: its routes under the include's prefix
            out |= app_routes(r.original_router.routes, prefix + (r.include_context.prefix or ""))
        elif isinstance(r, Mount):
            out.add(("GET", prefix + r.path + "/{file}"))
        else:
            out |= {(m, prefix + r.path) for m in (r.methods or ()) if m != "HEAD"}
    return out


# answered without a role, each covered by its own tests; everything else must be in TABLE
PUBLIC = {
    ("GET", "/api/v1/openapi.json"),  # tests/api/test_schemathesis.py
    ("GET", "/api/v1/docs"),  # Swagger UI and its files, from the box: tests/api/test_docs_page.py
    ("GET", "/api/v1/docs/swagger-ui-bundle.js"),
    ("GET", "/api/v1/docs/swagger-ui.css"),
    ("GET", "/api/v1/docs/favicon-32x32.png"),
    ("GET", "/openapi.json"),  # redirects to /api/v1/openapi.json: tests/api/test_limits.py
    ("GET", "/docs"),  # redirects to /api/v1/docs
    ("GET", "/"),  # the pages: tests/api/test_browser.py, test_demo_pages.py
    ("GET", "/overview"),
    ("GET", "/sw.js"),
    ("GET", "/manifest.webmanifest"),
    ("GET", "/static/{file}"),
    ("GET", "/a/{token}"),  # one-tap ack links carry their own signed token: tests/api/test_ack_link.py
    ("POST", "/a/{token}"),
    ("GET", "/w/{token}"),  # 确认灌溉 links, signed the same way: tests/api/test_confirm_link.py
    ("POST", "/w/{token}"),
}
# never ends: tests/api/test_notices.py and test_tokens.py check who may open it and when it closes
STREAMS = {("GET", "/api/v1/villages/{village}/stream")}


def test_every_route_of_the_app_is_in_the_role_table(shared_world: ApiWorld) -> None:
    declared = app_routes(shared_world.client.app.routes)  # type: ignore[attr-defined]
    schema = {(m.upper(), p) for p, ops in shared_world.client.get("/api/v1/openapi.json").json()["paths"].items()
              for m in ops}  # fmt: skip
    assert schema <= {(m, _CONVERTER.sub(r"{\1}", p)) for m, p in declared}  # the walk sees the whole document
    tested = {(m, p.split("?")[0]) for m, p, _, _ in TABLE}

    def covered(method: str, template: str) -> bool:
        parts = template.split("/")
        return any(
            tm == method and len(tp.split("/")) == len(parts)
            and all(a == b or b.startswith("{") for a, b in zip(tp.split("/"), parts, strict=True))
            for tm, tp in tested
        )  # fmt: skip

    untested = {(m, p) for m, p in declared if (m, p) not in PUBLIC | STREAMS and not covered(m, p)}
    assert untested == set()
    assert declared >= PUBLIC | STREAMS  # the exemptions name real routes
