"""The pages in real headless Chromium at a phone viewport, fed by a running collector and the simulator.

mosquitto ← `qyb sim` and a cold reading; `qyb collect` stores and alerts; `qyb api` serves the pages;
Playwright drives Debian's chromium. Screenshots go to tmp; docs/img's come from the running demo
(tests/api/test_demo_pages.py with QYB_SCREENSHOTS=1).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import paho.mqtt.client as mqtt
import pytest

from alerts.notify.outbox import Outbox
from api.users import UserStore
from ingest.store.sqlite import SqliteStore
from ingest.store.sqlite_alerts import SqliteAlertStore
from qingyubiao.batch import Batch
from qingyubiao.config import Config
from qingyubiao.series import SeriesIndex
from tests.conftest import Mosquitto, free_port, need, qyb, qyb_env, spawn_qyb, wait_for
from tests.influx.servers import Influxd1

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Response, ViewportSize

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]

LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE: ViewportSize = {"width": 360, "height": 740}
PAGE_BUDGET_BYTES = 200_000
PAGE_WIRE_BUDGET_BYTES = 45_000  # what a load costs a farmer on weak 4G: 41 KB (gzip); longer charts only on a tap
ACK_SECRET = "browser-test-ack-secret"


@pytest.fixture
def running(
    mosquitto: Mosquitto, village: Config, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[dict[str, object]]:
    """Collector and API processes on one database, with simulated readings stored. With the parameter
    "influx", the collector forwards to a real influxd 1.6 (its /write API) and the API reads the readings
    from there (deployment.store.read = influx)."""
    chromium = need("chromium")
    db = tmp_path / "qyb.sqlite"
    port = free_port()
    # the collector signs one-tap ack links with the secret the API checks, pointing at the API
    env = qyb_env(
        mosquitto, db, QYB_ACK_SECRET=ACK_SECRET, QYB_PUBLIC_URL=f"http://127.0.0.1:{port}", QYB_TOKEN_RECHECK_S="1",
        QYB_METRICS_PORT=str(free_port()),  # the collector's, where the API reads the box's problems
    )  # fmt: skip
    influxd = None
    if getattr(request, "param", "sqlite") == "influx":
        influxd = Influxd1(need("influxd"), tmp_path / "influxd")
        influxd.start()
        influxd.create_database("qyb")
        env |= {"QYB_INFLUX_URL": influxd.url, "QYB_INFLUX_API": "v1", "QYB_INFLUX_DATABASE": "qyb",
                "QYB_INFLUX_SPOOL_DIR": str(tmp_path / "spool"), "QYB_READ_STORE": "influx"}  # fmt: skip
    collect_log = tmp_path / "collect.log"
    collector = spawn_qyb("collect", env=env, log=collect_log)
    procs = [collector]
    try:
        wait_for(lambda: "subscribed to" in collect_log.read_text(), 20, "the collector to subscribe")
        per_round = sum(len(d.metrics) for d in village.village[0].device)  # one plausible reading per metric
        qyb("sim", "--count", str(per_round), "--start=-1m", env=env)  # of every device, a minute old
        users = UserStore(db, village)
        tokens = {who: users.issue("lijiahe", who) for who in ("li-jianjun", "secretary")}
        users.close()
        procs.append(spawn_qyb("api", "--port", str(port), "--stream-poll", "0.5", env=env, log=tmp_path / "api.log"))
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(f"{base}/healthz"), 20, "qyb api")
        headers = {"Authorization": f"Bearer {tokens['secretary']}"}
        wait_for(
            lambda: all(
                s["updated_ms"] for s in httpx.get(f"{base}/api/v1/villages/lijiahe/sites", headers=headers).json()
            ),
            20,
            "every site to have readings",
        )
        yield {"base": base, "tokens": tokens, "db": db, "mqtt": mosquitto, "chromium": chromium, "tmp": tmp_path,
               "metrics_port": int(env["QYB_METRICS_PORT"])}  # fmt: skip
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(10)
        if influxd is not None:
            influxd.stop()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _publish(broker: Mosquitto, device: str, metrics: dict[str, float]) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="browser-test")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    payload = {"ts": time.time(), "seq": 1, "m": metrics}
    client.publish(f"qyb/lijiahe/{device}/up", json.dumps(payload), qos=1).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


def wire_bytes(responses: list[Response]) -> int:
    """What a load cost on the network: response headers and bodies as sent (gzip), the live stream left out."""
    total = 0
    for r in responses:
        if "/stream" in r.url:
            continue
        r.finished()
        sizes = r.request.sizes()
        total += sizes["responseHeadersSize"] + sizes["responseBodySize"]
    return total


HOUR = 3_600_000
DAY = 24 * HOUR


@contextmanager
def chromium(running: dict[str, object]) -> Iterator[Browser]:
    """Debian's headless Chromium, closed on the way out."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(running["chromium"]), headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _a_month_of_gh01(running: dict[str, object], village: Config) -> dict[str, tuple[float, float]]:
    """30 days of hourly gh01 air readings, as a collector running all month would have stored them, with the
    extremes of the last 7 days and of the 30 well inside each range (beyond anything the simulator's one
    reading a minute ago reaches). Returns each range's (highest, lowest) temperature."""
    db = running["db"]
    assert isinstance(db, Path)
    index = SeriesIndex(village)
    temp, rh = index.find("lijiahe", "gh01-air", "air_temp_c"), index.find("lijiahe", "gh01-air", "air_rh_pct")
    assert temp is not None and rh is not None
    hours_ago = np.arange(1, 30 * 24, dtype=np.int64)
    ts = int(time.time() * 1000) - hours_ago * HOUR
    celsius = 15.0 + 5.0 * np.sin(2 * np.pi * hours_ago / 24)  # 10-20 °C, day and night
    extremes = {3: 51.0, 5: -11.0, 20: 57.0, 25: -17.0}  # days ago: the 7-day high and low, the 30-day ones
    for days, value in extremes.items():
        celsius[hours_ago == days * 24] = value
    n = len(ts)
    store = SqliteStore(db, index)
    store.write(Batch(np.repeat(np.array([temp, rh], dtype=np.int32), n), np.tile(ts, 2),
                      np.concatenate([celsius, 70.0 - celsius]), np.zeros(2 * n, dtype=np.uint16)))  # fmt: skip
    store.refresh_rollups()  # the hourly rollups the 7- and 30-day charts are answered from
    store.close()
    return {"7d": (extremes[3], extremes[5]), "30d": (extremes[20], extremes[25])}


def phone_context(browser: Browser) -> BrowserContext:
    """A cheap Android phone in the village: 360 px wide, Chinese, on the village clock."""
    return browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        is_mobile=True,
        has_touch=True,
    )


@pytest.mark.parametrize("running", ["sqlite", "influx"], indirect=True)
def test_phone_page_live_values_alert_ack_offline_and_size(running: dict[str, object]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, tokens, tmp = running["base"], running["tokens"], running["tmp"]
    assert isinstance(tokens, dict) and isinstance(tmp, Path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(running["chromium"]), headless=True, args=LAUNCH_ARGS)
        context = phone_context(browser)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        responses: list[Response] = []
        page.on("response", lambda r: responses.append(r))
        page.goto(f"{base}/#token={tokens['li-jianjun']}")

        # the farmer's two greenhouses (his household owns 1号棚 and 2号棚), with values from the collector
        cards = page.locator("section.card")
        expect(cards).to_have_count(2)
        gh01 = page.locator("#site-gh01")
        expect(gh01.locator(".name")).to_have_text("1号棚")
        expect(gh01.locator("[data-m=air_temp_c] b")).not_to_have_text("--")
        expect(gh01.locator(".ago")).to_contain_text("更新")
        expect(gh01.locator(".chart canvas")).to_have_count(1)
        assert "token" not in page.url  # the login token left the address bar
        page.wait_for_load_state("networkidle")
        loaded = sum(len(r.body()) for r in responses if "/stream" not in r.url)
        assert loaded < PAGE_BUDGET_BYTES, f"page load is {loaded} bytes"
        wire = wire_bytes(responses)
        print(f"phone page: {loaded} bytes unpacked, {wire} bytes on the wire")
        assert wire < PAGE_WIRE_BUDGET_BYTES, f"page load is {wire} bytes on the wire"

        # a frost-cold reading: the collector's alert core fires at once (emergency), the stream brings it
        _publish(running["mqtt"], "gh01-air", {"air_temp_c": 1.5, "air_rh_pct": 95.0})  # type: ignore[arg-type]
        expect(gh01.locator("[data-m=air_temp_c] b")).to_have_text("1.5", timeout=15_000)
        alert = gh01.locator(".alerts li").first
        expect(alert).to_be_visible(timeout=15_000)
        expect(gh01).to_have_attribute("data-status", "critical")
        # the notice the phone was sent (the outbox's feed) shows at the top, with its own ack button
        notice = page.locator("#notices li").first
        expect(notice).to_contain_text("1号棚 气温 1.5℃", timeout=15_000)
        expect(notice.locator("button.ack")).to_have_text("我知道了")
        page.screenshot(path=tmp / "phone.png", full_page=True)
        alert.locator("button").tap()
        expect(alert.locator("button")).to_have_text("已确认")
        expect(notice.locator("button.ack")).to_have_text("已确认")  # one alert, one state
        page.locator("#lang").tap()
        expect(notice).to_contain_text("1号棚 (gh01) air temperature 1.5 °C")
        page.locator("#lang").tap()
        store = SqliteAlertStore(running["db"], readonly=True)  # type: ignore[arg-type]
        acked = [e for e in store.active_episodes("lijiahe") if e.site == "gh01" and e.ack_by]
        store.close()
        assert [e.ack_by for e in acked] == ["li-jianjun"]

        # the network drops: the page still opens, with the last data and a banner saying how old it is
        page.evaluate("navigator.serviceWorker.ready")
        context.set_offline(True)
        page.reload()
        expect(page.locator("#offline")).to_be_visible()
        expect(page.locator("#site-gh01 [data-m=air_temp_c] b")).to_have_text("1.5")
        expect(page.locator("#notices li").first).to_contain_text("1号棚 气温 1.5℃")  # kept with the rest
        context.set_offline(False)
        assert errors == []
        browser.close()


def test_opening_the_page_renews_the_token_and_revoking_it_logs_the_page_out(
    running: dict[str, object], village: Config
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, db = str(running["base"]), running["db"]
    assert isinstance(db, Path)
    users = UserStore(db, village)
    issued = int(time.time() * 1000) - users.ttl_ms + 3_600_000  # an old login link: one hour left
    token = users.issue("lijiahe", "li-jianjun", label="old link", now=issued)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(running["chromium"]), headless=True, args=LAUNCH_ARGS)
        page = phone_context(browser).new_page()
        with page.expect_response(lambda r: r.url.endswith("/api/v1/me/renew") and r.ok):
            page.goto(f"{base}/#token={token}")
        expect(page.locator("section.card")).to_have_count(2)
        [mine] = [t for t in users.tokens("lijiahe") if t.label == "old link"]
        assert mine.expires_ms > issued + users.ttl_ms + 60_000  # a full lifetime from the visit, not the issue
        expect(page.locator("#login")).to_be_hidden()
        users.revoke(mine.hash_prefix)
        expect(page.locator("#login")).to_be_visible(timeout=10_000)  # the stream re-checks every second here
        assert page.evaluate("localStorage.getItem('qyb_token')") is None
        browser.close()
    users.close()


def test_a_token_revoked_before_the_stream_connects_logs_the_page_out(
    running: dict[str, object], village: Config
) -> None:
    # The stream refuses the revoked token with 401, which closes the EventSource without a `logout` event.
    from playwright.sync_api import Route, expect, sync_playwright

    base, db = str(running["base"]), running["db"]
    assert isinstance(db, Path)
    users = UserStore(db, village)
    token = users.issue("lijiahe", "li-jianjun", label="revoked between load and stream")
    [mine] = [t for t in users.tokens("lijiahe") if t.label == "revoked between load and stream"]

    def revoke_then_connect(route: Route) -> None:
        users.revoke(mine.hash_prefix)
        route.continue_()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(running["chromium"]), headless=True, args=LAUNCH_ARGS)
        page = phone_context(browser).new_page()
        page.route("**/stream?*", revoke_then_connect)
        with page.expect_response(lambda r: "/stream?" in r.url and r.status == 401):
            page.goto(f"{base}/#token={token}")
        expect(page.locator("#login")).to_be_visible()
        assert page.evaluate("localStorage.getItem('qyb_token')") is None
        browser.close()
    users.close()


def test_ack_link_page_on_a_phone_needs_a_tap_not_a_login(running: dict[str, object]) -> None:
    from playwright.sync_api import expect, sync_playwright

    tmp, db = running["tmp"], running["db"]
    assert isinstance(tmp, Path) and isinstance(db, Path)
    _publish(running["mqtt"], "gh02-air", {"air_temp_c": 1.5, "air_rh_pct": 95.0})  # type: ignore[arg-type]
    outbox = Outbox(db, readonly=True)
    try:
        wait_for(lambda: any(e.site == "gh02" for e in outbox.events_since(0, "li-jianjun")), 20, "the gh02 notice")
        event = next(e for e in outbox.events_since(0, "li-jianjun") if e.site == "gh02")
    finally:
        outbox.close()
    assert event.ack_url is not None and event.ack_url.startswith(f"{running['base']}/a/")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(running["chromium"]), headless=True, args=LAUNCH_ARGS)
        context = phone_context(browser)
        page = context.new_page()  # a fresh browser: no login token anywhere
        page.goto(event.ack_url)
        expect(page.locator("h1")).to_have_text("请确认收到这条告警")
        expect(page.locator(".site")).to_have_text("2号棚")
        expect(page.locator("main")).to_contain_text("确认人：李建军")
        page.screenshot(path=tmp / "ack.png", full_page=True)
        page.locator("button").tap()
        expect(page.locator("h1")).to_have_text("已确认 ✓")
        expect(page.locator("main")).to_contain_text("由 李建军 确认")
        browser.close()
    store = SqliteAlertStore(db, readonly=True)
    acked = {e.id: e.ack_by for e in store.active_episodes("lijiahe") if e.site == "gh02"}
    store.close()
    assert acked.pop(event.episode) == "li-jianjun" and set(acked.values()) <= {None}  # that alert only


def test_overview_grid_shows_the_village(running: dict[str, object], village: Config) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, tokens, tmp = running["base"], running["tokens"], running["tmp"]
    assert isinstance(tokens, dict) and isinstance(tmp, Path)
    _publish(running["mqtt"], "gh05-air", {"air_temp_c": 1.0, "air_rh_pct": 95.0})  # type: ignore[arg-type]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(running["chromium"]), headless=True, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai")
        page.goto(f"{base}/overview#token={tokens['secretary']}")
        expect(page.locator("#grid-greenhouse .tile")).to_have_count(24)
        expect(page.locator("#grid-orchard .tile")).to_have_count(6)
        expect(page.locator("#tile-gh05")).to_have_attribute("data-status", "critical", timeout=15_000)
        row = page.locator("#alerts tbody tr[data-severity=emergency]", has_text="5号棚")
        v = village.village[0]
        owner = next(s.owner for s in v.site if s.id == "gh05")
        farmer = next(p.name for p in v.person if p.household == owner)
        expect(row).to_contain_text(f"未确认：{farmer}")  # who has not acknowledged, by name
        expect(page.locator("#summary tbody tr")).to_have_count(30)
        expect(page.locator("#problems")).to_be_hidden()  # the collector answers and has no problem
        page.wait_for_timeout(500)
        page.screenshot(path=tmp / "overview.png", full_page=False)
        browser.close()


def test_overview_shows_a_red_banner_while_the_broker_is_down(running: dict[str, object]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, tokens, broker = running["base"], running["tokens"], running["mqtt"]
    assert isinstance(tokens, dict) and isinstance(broker, Mosquitto)
    metrics = f"http://127.0.0.1:{running['metrics_port']}/metrics"
    broker.stop()
    wait_for(lambda: 'part="broker"} ' in httpx.get(metrics).text, 20, "the collector to see it")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(running["chromium"]), headless=True, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai")
        page.goto(f"{base}/overview#token={tokens['secretary']}")
        banner = page.locator("#problems")
        expect(banner).to_be_visible(timeout=10_000)
        expect(banner).to_contain_text("连不上消息代理（MQTT），收不到传感器数据")
        expect(banner).to_contain_text("Connection refused")
        assert banner.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(179, 38, 30)"  # red
        broker.start()  # and it goes once the broker is back (the page asks every 15 s)
        expect(banner).to_be_hidden(timeout=30_000)
        browser.close()


def test_phone_page_7_and_30_day_charts_come_on_a_tap_from_the_rollups(
    running: dict[str, object], village: Config
) -> None:
    from playwright.sync_api import expect

    base, tokens, tmp = running["base"], running["tokens"], running["tmp"]
    assert isinstance(tokens, dict) and isinstance(tmp, Path)
    extremes = _a_month_of_gh01(running, village)
    with chromium(running) as browser:
        page = phone_context(browser).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "/history?" in r.url else None)
        page.goto(f"{base}/#token={tokens['li-jianjun']}")
        gh01 = page.locator("#site-gh01")
        expect(gh01.locator(".chart canvas")).to_have_count(1)
        expect(gh01.locator(".ranges button[aria-pressed=true]")).to_have_text("24小时")
        page.wait_for_load_state("networkidle")
        assert asked and all("step_ms=900000" in url for url in asked)  # days are fetched only when asked for
        for days, step, label in ((7, HOUR, "7天"), (30, 6 * HOUR, "30天")):
            wanted = f"/sites/gh01/history?start=-{days}d&step_ms={step}&metric=air_temp_c"

            def temperature(r: Response, wanted: str = wanted) -> bool:
                return r.url.endswith(wanted)

            with page.expect_response(temperature) as answer:
                gh01.locator(f".ranges button[data-r='{days}d']").tap()
            body = answer.value.json()
            # hourly buckets or whole multiples of them: the store answers from its hourly rollups
            assert body["step_ms"] == step and body["start_ms"] % HOUR == 0
            assert days * DAY // step - 2 <= len(body["points"]) <= days * DAY // step + 1  # every bucket has data
            high, low = extremes[f"{days}d"]
            expect(gh01.locator(".chart .hl")).to_have_text(f"{label} 最高 {high:.1f}°C 最低 {low:.1f}°C")
            expect(gh01.locator(".ranges button[aria-pressed=true]")).to_have_text(label)
            expect(gh01.locator(".chart canvas")).to_have_count(1)
            print(f"{days}-day chart: {wire_bytes([answer.value])} bytes on the wire for its temperature")
        page.screenshot(path=tmp / "phone-30d.png", full_page=True)
        gh01.locator(".ranges button[data-r='24h']").tap()
        expect(gh01.locator(".chart .hl")).to_have_count(0)  # the day's chart has no range summary
        expect(gh01.locator(".chart canvas")).to_have_count(1)
        assert errors == []


def test_overview_history_chart_and_the_printout_for_the_notice_board(
    running: dict[str, object], village: Config
) -> None:
    from playwright.sync_api import expect

    base, tokens, tmp = running["base"], running["tokens"], running["tmp"]
    assert isinstance(tokens, dict) and isinstance(tmp, Path)
    extremes = _a_month_of_gh01(running, village)
    with chromium(running) as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai")
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/overview#token={tokens['secretary']}")
        expect(page.locator("#summary tbody tr")).to_have_count(30)
        page.locator("#hist-site").select_option("gh01")
        high, low = extremes["7d"]
        expect(page.locator("#history .hl")).to_have_text(f"7天 最高 {high:.1f}°C 最低 {low:.1f}°C")
        page.locator("#history-panel button[data-r='30d']").click()
        high, low = extremes["30d"]
        expect(page.locator("#history .hl")).to_have_text(f"30天 最高 {high:.1f}°C 最低 {low:.1f}°C")
        box = page.locator("#history canvas").bounding_box()
        assert box is not None and box["width"] > 1000  # the whole width of the overview
        page.locator("#history-panel").screenshot(path=tmp / "overview-history.png")
        expect(page.locator(".sign")).to_be_hidden()  # the signature lines are for paper only

        # 打印: the summary for the notice board, with its date and signature lines, and no controls
        page.emulate_media(media="print")
        for control in ("#month", "#print", ".bar", "#history-panel", "#alerts"):
            expect(page.locator(control)).to_be_hidden()
        month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
        expect(page.locator("#summary-title")).to_contain_text(month)  # the month is said in the title instead
        expect(page.locator("#summary tbody tr")).to_have_count(30)
        today = datetime.now(ZoneInfo("Asia/Shanghai"))
        expect(page.locator("#print-date")).to_have_text(f"{today.year}年{today.month}月{today.day}日")
        sign = page.locator(".sign")
        expect(sign).to_be_visible()
        for words in ("打印日期", "村委会（盖章）", "负责人签字", "日期"):
            expect(sign).to_contain_text(words)
        blanks = sign.locator(".blank")
        expect(blanks).to_have_count(3)
        for i in range(3):
            line = blanks.nth(i).bounding_box()
            assert line is not None and line["width"] > 100  # room to sign and stamp
        page.screenshot(path=tmp / "printout.png", full_page=True)
        assert errors == []
