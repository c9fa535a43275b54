"""`/api/v1/docs` works on a box without the internet: Swagger UI's files come from the box itself.

FastAPI's default page loads them from a CDN; in Chromium with every request off the box refused, that page was
blank. Here the page must draw every operation of the OpenAPI document with nothing fetched from elsewhere.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ApiWorld
from tests.api.test_alert_badge import serving
from tests.api.test_browser import LAUNCH_ARGS
from tests.conftest import need

URLS = re.compile(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""")


def test_the_docs_page_names_only_files_on_the_box(world: ApiWorld) -> None:
    page = world.client.get("/api/v1/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    urls = URLS.findall(page.text)
    assert len(urls) == 4 and all(u.startswith("/api/v1/") for u in urls), urls
    files = [("swagger-ui-bundle.js", "text/javascript", 100_000), ("swagger-ui.css", "text/css", 100_000),
             ("favicon-32x32.png", "image/png", 100)]  # fmt: skip
    for name, media, size in files:
        r = world.client.get(f"/api/v1/docs/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(media)
        assert len(r.content) > size and "max-age" in r.headers["cache-control"]
        assert world.client.head(f"/api/v1/docs/{name}").status_code == 200
    assert world.client.head("/api/v1/docs").status_code == 200  # curl -I, uptime checks


def test_behind_a_proxy_the_page_names_its_files_below_the_proxy_s_path(world: ApiWorld) -> None:
    with TestClient(world.client.app, root_path="/qyb") as proxied:
        urls = URLS.findall(proxied.get("/api/v1/docs").text)
    assert len(urls) == 4 and all(u.startswith("/qyb/api/v1/") for u in urls), urls


@pytest.mark.slow  # a browser
def test_swagger_ui_draws_every_operation_with_the_internet_cut_off(world: ApiWorld) -> None:
    from playwright.sync_api import Route, expect, sync_playwright

    chromium = need("chromium")
    refused: list[str] = []

    def only_the_box(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:  # what a village box without the internet would see
            refused.append(route.request.url)
            route.abort()

    with serving(world) as base, sync_playwright() as p:
        operations = sum(len(ops) for ops in httpx.get(f"{base}/api/v1/openapi.json").json()["paths"].values())
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(locale="zh-CN")
            page.route("**/*", only_the_box)
            page.goto(f"{base}/api/v1/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("晴雨表", timeout=15_000)
            expect(page.locator(".opblock")).to_have_count(operations)
        finally:
            browser.close()
    assert operations > 30  # the whole API, not an empty document
    assert refused == []
