"""`/api/v1/docs` works on a box without the internet: Swagger UI's files come from the box itself.

FastAPI's default page loads them from a CDN; in Chromium with every request off the box refused, that page was
blank. Here the page must draw every operation of the OpenAPI document with nothing fetched from elsewhere.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest

from tests.api.conftest import ApiWorld
from tests.api.test_alert_badge import serving
from tests.api.test_browser import LAUNCH_ARGS
from tests.conftest import need

pytestmark = pytest.mark.slow  # a browser


def test_the_docs_page_names_only_files_on_the_box(world: ApiWorld) -> None:
    page = world.client.get("/api/v1/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", page.text)
    assert urls and all(u.startswith("/api/v1/") for u in urls), urls
    for name, media in (("swagger-ui-bundle.js", "text/javascript"), ("swagger-ui.css", "text/css")):
        r = world.client.get(f"/api/v1/docs/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(media)
        assert len(r.content) > 100_000 and "max-age" in r.headers["cache-control"]


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
