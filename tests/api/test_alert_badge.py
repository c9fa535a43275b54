"""The overview's active-alert badge and `GET alerts?status=active` are one number, in real Chromium.

They disagreed when a pending episode (a condition still waiting out its duration) was in the store: the API
listed it as active, the page counted only firing ones. The test puts pending episodes beside firing ones,
then one that fires and one that is still pending while the page is open.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from tests.api.conftest import SECRETARY, ApiWorld, episode
from tests.api.test_browser import LAUNCH_ARGS
from tests.conftest import free_port, need, wait_port

pytestmark = pytest.mark.slow  # a browser
V = "/api/v1/villages/lijiahe"


@contextmanager
def serving(world: ApiWorld) -> Iterator[str]:
    """The world's app over HTTP (uvicorn in a thread), stopped on the way out."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(world.client.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


def test_the_overview_badge_counts_what_the_alert_list_lists(world: ApiWorld) -> None:
    from playwright.sync_api import expect, sync_playwright

    chromium = need("chromium")
    now = world.now_ms
    waiting = [
        episode("ep-gh05-wait", "gh05", "gh05-air", "air_temp_c", now - 120_000, state="pending", fired_ms=None),
        episode("ep-gh07-wait", "gh07", "gh07-air", "air_rh_pct", now - 60_000, state="pending", fired_ms=None),
    ]
    world.alerts.record([], waiting, None, now)
    secretary = {"Authorization": f"Bearer {world.tokens[SECRETARY]}"}

    with serving(world) as base, sync_playwright() as p:

        def listed() -> int:
            r = httpx.get(f"{base}{V}/alerts?status=active", headers=secretary)
            assert r.status_code == 200
            return len(r.json())

        browser = p.chromium.launch(executable_path=chromium, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
            page.goto(f"{base}/overview#token={world.tokens[SECRETARY]}")
            badge, rows = page.locator("#alert-count"), page.locator("#alerts tbody tr")
            expect(badge).not_to_have_text("", timeout=15_000)
            expect(badge).to_have_text(str(listed()))  # was 2 on the page, 4 in the list
            expect(rows).to_have_count(listed())
            assert listed() == 2  # ep-gh01 and ep-gh03 fire; the two pending ones are not alerts yet
            # while the page is open: gh05's fires, a new one on gh09 starts pending (the stream polls every 0.2 s)
            fired = episode("ep-gh05-wait", "gh05", "gh05-air", "air_temp_c", now - 120_000, fired_ms=now)
            new = episode("ep-gh09-wait", "gh09", "gh09-air", "air_temp_c", now, state="pending", fired_ms=None)
            world.alerts.record([], [fired, new], None, now)
            assert listed() == 3
            expect(badge).to_have_text(str(listed()), timeout=10_000)
            page.wait_for_timeout(1_000)  # five polls of the stream: the pending one must not be counted
            expect(badge).to_have_text(str(listed()))
            expect(rows).to_have_count(listed())
        finally:
            browser.close()
