"""Every 4xx in the documented shape, `{"detail": "中文 / English"}` (docs/api.md "Errors and limits"): the test
walks every route of the app and provokes what can go wrong on it — no token, a wrong method, an unknown query
parameter, a bad id in the path, another village, a role that may not, a body that is not an object, not JSON
or missing its fields, too large a body, too long a query — plus unknown paths."""

from __future__ import annotations

import re
from collections import Counter

from fastapi.testclient import TestClient

from api.params import _CONVERTER
from tests.api.conftest import ADMIN, FARMER, SECRETARY, ApiWorld
from tests.api.test_roles import app_routes

V = "/api/v1/villages/lijiahe"
CJK = re.compile(r"[\u3400-\u9fff\uff01-\uff5e]")
FILL = {
    "village": "lijiahe",
    "site": "gh01",
    "episode": "ep-gh01",
    "silence": "no-such",
    "person": "li-jianjun",
    "hash_prefix": "ffffffff",
    "token": "not-a-link",
    "file": "no-such.js",
}
NEVER_ENDS = "/api/v1/villages/{village}/stream"  # with a good token and role it is a 200 that never ends


def shape_problem(status: int, body: object) -> str | None:
    """What is wrong with an error body, or None when it is the documented shape."""
    if not isinstance(body, dict) or not isinstance(body.get("detail"), str):
        return "no string `detail`"
    detail = body["detail"]
    if detail.count(" / ") != 1:
        return "not one ' / ' between the Chinese and the English"
    zh, en = detail.split(" / ")
    if not CJK.search(zh):
        return "no Chinese before ' / '"
    if not re.search(r"[A-Za-z]{2}", en) or CJK.search(en):
        return "no English (or Chinese) after ' / '"
    if status == 422:
        errors = body.get("errors")
        if not isinstance(errors, list) or not errors:
            return "a 422 without `errors`"
        for e in errors:
            if set(e) != {"where", "problem", "problem_zh"} or not CJK.search(e["problem_zh"]):
                return f"a field error without its Chinese problem: {e}"
        for e in errors[:3]:  # the Chinese half names each field and what is wrong with it, in Chinese
            if f"{e['where']} {e['problem_zh']}" not in zh:
                return f"the Chinese half does not say {e['where']} {e['problem_zh']}"
    return None


def path_of(template: str, **fill: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: {**FILL, **fill}[m.group(1)], template)


def provocations(method: str, template: str, methods: set[str], world: ApiWorld) -> list[tuple[str, str, dict]]:
    """(method, url, request keywords) that should each be refused on this route."""
    url = path_of(template)
    out: list[tuple[str, str, dict]] = []
    wrong = next(m for m in ("PATCH", "PUT", "DELETE", "POST") if m not in methods)
    out.append((wrong, url, {"headers": world.auth(SECRETARY)}))  # 405
    out.append((method, url + "?sit=gh03", {"headers": world.auth(SECRETARY)}))  # 422: a typo'd parameter
    out.append((method, url + "?q=" + "x" * 3000, {"headers": world.auth(SECRETARY)}))  # 414
    if "{village}" in template:
        out.append((method, path_of(template, village="Bad Village"), {"headers": world.auth(SECRETARY)}))  # 422
        out.append((method, path_of(template, village="other"), {"headers": world.auth(SECRETARY)}))  # 404
    if "{site}" in template:
        out.append((method, path_of(template, site="gh99"), {"headers": world.auth(SECRETARY)}))  # 404
    if template.startswith("/api/v1"):
        out.append((method, url, {}))  # 401: no token
        out.append((method, url, {"headers": {"Authorization": "Bearer qyb_made_up"}}))  # 401
        if template != NEVER_ENDS:
            for who in (FARMER, ADMIN):  # 403 or 404 where the role may not
                out.append((method, url, {"headers": world.auth(who)}))
    if method in ("POST", "PUT"):
        for body in (b"[]", b"{}", b'{"reason": 1, "minutes": "many", "day": []}', b"{nope", b"\xff\xfe"):
            out.append((method, url, {"headers": {**world.auth(SECRETARY), "Content-Type": "application/json"},
                                      "content": body}))  # fmt: skip
        big = {**world.auth(SECRETARY), "Content-Type": "application/json"}
        out.append((method, url, {"headers": big, "content": b" " * (65 * 1024)}))  # 413
    return out


def test_every_route_answers_every_4xx_in_the_documented_shape(world: ApiWorld) -> None:
    client = TestClient(world.client.app, raise_server_exceptions=False)
    declared = app_routes(client.app.routes)  # type: ignore[attr-defined]
    methods: dict[str, set[str]] = {}
    for m, p in declared:
        methods.setdefault(_CONVERTER.sub(r"{\1}", p), set()).add(m)
    wrong, statuses, per_route = [], Counter[int](), Counter[str]()
    for method, template in sorted(declared):
        plain = _CONVERTER.sub(r"{\1}", template)
        for m, url, kw in provocations(method, template, methods[plain], world):
            r = client.request(m, url, **kw)
            assert r.status_code < 500, (m, url, r.text[:200])
            if r.status_code < 400 or r.headers.get("content-type", "").startswith("text/html"):
                continue  # the ack and confirm links answer a page for people (docs/api.md), in both languages
            statuses[r.status_code] += 1
            per_route[plain] += 1
            problem = shape_problem(r.status_code, r.json())
            if problem:
                wrong.append((m, url[:80], r.status_code, problem, r.json().get("detail", "")[:160]))
    for m, url in (("GET", "/nothing-here"), ("GET", "/api/v1/nothing-here"), ("GET", "/static/nothing.js")):
        r = client.request(m, url, headers=world.auth(FARMER))
        assert r.status_code == 404
        statuses[404] += 1
        if problem := shape_problem(404, r.json()):
            wrong.append((m, url, 404, problem, r.text[:160]))
    assert wrong == []
    assert {401, 403, 404, 405, 413, 414, 422} <= set(statuses)  # each kind of refusal was met
    assert set(per_route) == set(methods)  # and every route refused something


def test_a_422_says_in_chinese_which_field_is_wrong_and_how(world: ApiWorld) -> None:
    r = world.client.post(f"{V}/silences", json={"reason": 1}, headers=world.auth(SECRETARY))
    assert r.status_code == 422
    zh, en = r.json()["detail"].split(" / ")
    assert zh == "请求参数不对：body.reason 应为文本；body.duration_min 缺少这一项"
    assert en == "invalid request: body.reason: Input should be a valid string; body.duration_min: Field required"
    assert r.json()["errors"] == [
        {"where": "body.reason", "problem": "Input should be a valid string", "problem_zh": "应为文本"},
        {"where": "body.duration_min", "problem": "Field required", "problem_zh": "缺少这一项"},
    ]
    r = world.client.get(f"{V}/alerts?status=now&limit=0", headers=world.auth(FARMER))
    zh = r.json()["detail"].split(" / ")[0]
    assert r.status_code == 422
    assert "query.status 应为 'active'、'pending'、'past' 或 'all' 之一" in zh and "query.limit 应不小于 1" in zh
    r = world.client.post(f"{V}/silences", json={"reason": "修", "duration_min": 1e9}, headers=world.auth(SECRETARY))
    assert r.json()["errors"][0]["problem_zh"] == "应不大于 10080"  # a week, in minutes
