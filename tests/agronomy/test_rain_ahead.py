"""The rain forecast in the water advice: the days left counted through the forecast rain (FAO-56 ch. 8:
rain under 0.2 ET0 evaporates; rain beyond field capacity drains), room left for it when water is due
now, the words on the page; the forecast fetched from an Open-Meteo compatible API (the twin's, as the
local receiver that checks the request), its failures said, and the collector's advice deferred by it."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from agronomy.risk import Risk
from agronomy.water import RainAhead, advise
from alerts.agronomy import RiskWatch, local_midnight_ms
from alerts.forecast import DAILY, FORECAST_DAYS, ForecastError, Forecasts, fetch
from qingyubiao.config import bundled_config_path, load_config
from qingyubiao.forecast import RainDay, RainForecast
from qingyubiao.risks import irrigation_note
from sensors_sim.forecast import TwinForecast
from sensors_sim.physics import Physics
from tests.agronomy.test_risk_watch import irrigation_alerts, world, write_day, write_soil

__all__ = ["world"]  # the fixture, shared with the risk-watch tests
HOUR = 3_600_000


def one(x: float) -> np.ndarray:
    return np.array([x])


def test_without_a_forecast_the_advice_is_the_recent_use_alone() -> None:
    a = advise(one(10.0), one(28.0), one(100.0), one(3.0), one(0.5))
    assert a.days_left[0] == 6.0 and a.need_mm[0] == 0 and np.isnan(a.rain_mm[0]) and not a.deferred[0]
    due = advise(one(30.0), one(28.0), one(100.0), one(3.0), one(0.5))
    assert due.days_left[0] == 0 and due.need_mm[0] == 30.0 and due.hours[0] == 60.0  # refill to field capacity


def test_forecast_rain_tomorrow_puts_the_irrigation_off() -> None:
    # Dr 24, RAW 28, ETc 3: plainly due in 1 day. 15 mm tomorrow: 27 tonight, 15 tomorrow, 18 the day after,
    # then 3 whole days of 3 mm to RAW beyond the 3-day horizon: 6 days
    a = advise(one(24.0), one(28.0), one(100.0), one(3.0), one(0.5), np.array([[0.0, 15.0, 0.0]]), one(4.0))
    assert a.days_left[0] == 6.0 and a.deferred[0] and a.rain_mm[0] == 15.0 and a.due_mm[0] == 28.0


def test_rain_today_can_still_save_a_block_that_is_due() -> None:
    # Dr 27 is due now (27 + 3 > 28); 10 mm today: 20, 23, 26, then 28 - 26 < 3: 3 days
    a = advise(one(27.0), one(28.0), one(100.0), one(3.0), one(0.5), np.array([[10.0, 0.0, 0.0]]), one(4.0))
    assert a.days_left[0] == 3.0 and a.deferred[0] and a.need_mm[0] == 0


def test_a_drizzle_under_a_fifth_of_et0_counts_nothing() -> None:
    # 0.7 mm < 0.2 × ET0 4 mm: entirely evaporated (FAO-56 ch. 8); 0.9 mm counts
    drizzle = advise(one(24.0), one(28.0), one(100.0), one(3.0), one(0.5), np.array([[0.7, 0.7, 0.7]]), one(4.0))
    assert drizzle.days_left[0] == 1.0 and not drizzle.deferred[0] and drizzle.rain_mm[0] == 0.0
    light = advise(one(24.0), one(28.0), one(100.0), one(3.0), one(0.5), np.array([[0.9, 0.9, 0.9]]), one(4.0))
    assert light.rain_mm[0] == pytest.approx(2.7)


def test_water_due_now_leaves_room_for_the_rain_of_today_and_the_next_two_days() -> None:
    # Dr 30 > RAW 28: due today whatever falls tomorrow. 12 mm tomorrow and 8 the day after: refill 30 - 20 = 10,
    # not 30 (the rain would drain past field capacity); at least enough to last today (30 - 28 + 3 = 5)
    a = advise(one(30.0), one(28.0), one(100.0), one(3.0), one(0.5), np.array([[0.0, 12.0, 8.0]]), one(4.0))
    assert a.days_left[0] == 0 and a.need_mm[0] == 10.0 and a.due_mm[0] == 10.0 and a.hours[0] == 20.0
    storm = advise(one(30.0), one(28.0), one(100.0), one(3.0), one(0.5), np.array([[0.0, 40.0, 0.0]]), one(4.0))
    assert storm.need_mm[0] == 5.0  # still today's water
    beyond = advise(one(30.0), one(28.0), one(100.0), one(3.0), one(0.5), np.array([[0.0, 0.0, 20.0]]), one(4.0),
                    RainAhead(room_days=1))  # fmt: skip
    assert beyond.need_mm[0] == 30.0  # rain outside the room days is not waited for
    # a shower today that does not save the block: room for it, and what is left must last the day
    shower = advise(one(40.0), one(28.0), one(100.0), one(3.0), one(0.5), np.array([[6.0, 0.0, 0.0]]), one(4.0))
    assert shower.days_left[0] == 0 and shower.need_mm[0] == 34.0


def test_the_depletion_stops_at_field_capacity_and_at_taw() -> None:
    # 100 mm on Dr 10: the soil holds only what it lacks; the excess drains and does not carry over
    a = advise(one(10.0), one(28.0), one(100.0), one(3.0), one(0.5), np.array([[100.0, 0.0, 0.0]]), one(4.0))
    assert a.days_left[0] == 10.0  # 0, 3, 6 mm over the horizon; then 6 + 3 k passes 28 on the 8th day after


def test_the_page_says_why_no_water_is_due() -> None:
    base = {"method": "hargreaves", "due_mm": 28.0, "drip_hours": 56.0, "days_left": 6, "before": "2026-05-10"}
    zh, en = irrigation_note({**base, "forecast_rain_mm": 15.0, "rain_deferred": True})
    assert zh.startswith("预报有雨约 15.0 毫米，6 天内不需要灌溉；2026-05-10 前约需灌溉 28.0 毫米")
    assert en.startswith("15.0 mm of rain forecast: no irrigation needed for 6 days")
    zh, _ = irrigation_note({**base, "forecast_rain_mm": 0.0, "rain_deferred": False})
    assert zh.startswith("土壤水分尚足，6 天内不需要灌溉")
    zh, en = irrigation_note({**base, "days_left": 0, "due_mm": 10.0, "forecast_rain_mm": 20.0})
    assert "建议灌溉约 10.0 毫米" in zh and "预报近日有雨约 20.0 毫米，已为降雨留出余量" in zh
    assert "room is left for it" in en


def test_a_day_counts_only_when_its_rain_is_likely_enough() -> None:
    f = RainForecast("lijiahe", "example", 0, (RainDay("2026-05-02", 12.0, 80.0), RainDay("2026-05-03", 9.0, 30.0),
                                               RainDay("2026-05-04", 4.0, None)))  # fmt: skip
    assert f.ahead(dt.date(2026, 5, 2), 4, 60.0) == [12.0, 0.0, 4.0, None]


# -- the forecast source -----------------------------------------------------------------------------------


@pytest.fixture
def twin_forecast() -> Iterator[TwinForecast]:
    config = load_config(bundled_config_path())
    now = dt.datetime(2026, 7, 10, 9, tzinfo=dt.UTC).timestamp()
    server = TwinForecast(config, Physics(config, 0, now), clock=lambda: now).start()
    yield server
    server.stop()


def test_the_twin_answers_the_collectors_request_as_open_meteo_does(twin_forecast: TwinForecast) -> None:
    config = twin_forecast.config
    v = config.village[0]
    with httpx.Client() as client:
        f = fetch(client, twin_forecast.url, v, 123)
    [q] = twin_forecast.requests
    assert q == {"latitude": str(v.lat), "longitude": str(v.lon), "daily": DAILY, "timezone": "Asia/Shanghai",
                 "forecast_days": str(FORECAST_DAYS)}  # fmt: skip
    assert [d.day for d in f.days] == [(dt.date(2026, 7, 10) + dt.timedelta(days=k)).isoformat() for k in range(8)]
    weather = twin_forecast.physics.weathers[0]
    first = int(weather.day_number(dt.datetime(2026, 7, 10, 4, tzinfo=dt.UTC).timestamp()))
    truth = weather.days(first, 8).rain_mm
    assert [d.mm for d in f.days] == [round(float(x), 1) for x in truth]  # the rain the twin will make
    assert {d.probability_pct for d in f.days} <= {90.0, 5.0} and f.source.startswith("127.0.0.1:")
    with httpx.Client() as client:  # a request the real API would refuse is refused the same way
        r = client.get(twin_forecast.url, params={"latitude": 37.4, "longitude": 110.7, "daily": "precipitation_sum"})
    assert r.status_code == 400 and r.json()["error"] is True and "Timezone" in r.json()["reason"]


class Fixed:
    """A local forecast server that answers every request with one status and body."""

    def __init__(self, status: int, body: str) -> None:
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = outer.body.encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self.status, self.body = status, body
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/forecast"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (429, '{"error": true, "reason": "Daily API request limit exceeded"}', "HTTP 429: Daily API request limit"),
        (502, "<html>bad gateway</html>", "HTTP 502: <html>bad gateway"),
        (200, '{"hourly": {"time": []}}', "not a daily forecast"),
        (200, '{"daily": {"time": ["2026-05-02"], "precipitation_sum": [1.0, 2.0]}}', "differ in length"),
    ],
)
def test_a_failing_source_is_a_clear_error_and_the_last_forecast_stays(status: int, body: str, said: str) -> None:
    config = load_config(bundled_config_path())
    good = Fixed(200, json.dumps({"daily": {"time": ["2026-05-02"], "precipitation_sum": [3.0],
                                            "precipitation_probability_max": [70]}}))  # fmt: skip
    bad = Fixed(status, body)
    try:
        with httpx.Client() as client, pytest.raises(ForecastError, match=said):
            fetch(client, bad.url, config.village[0], 0)
        forecasts = Forecasts(config, good.url, clock=lambda: 1000.0)
        assert forecasts.refresh() and forecasts.version() == 1
        forecasts.url = bad.url
        assert not forecasts.refresh() and forecasts.failures == 1
        kept = forecasts.get("lijiahe")
        assert kept is not None and kept.days == (RainDay("2026-05-02", 3.0, 70.0),)
        forecasts.clock = lambda: 1000.0 + 25 * 3600  # a day later it is no forecast any more
        assert forecasts.get("lijiahe") is None
        forecasts.close()
    finally:
        good.stop()
        bad.stop()


def test_an_unreachable_source_is_said_by_name() -> None:
    config = load_config(bundled_config_path())
    with httpx.Client(timeout=2) as client, pytest.raises(ForecastError, match=r"127.0.0.1:9: ConnectError"):
        fetch(client, "http://127.0.0.1:9/v1/forecast", config.village[0], 0)


# -- in the collector --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("chance", "deferred"), [(95, True), (30, False)])
def test_likely_rain_today_defers_the_due_irrigation_and_no_notice_is_sent(
    world: Any, tmp_path: Path, chance: int, deferred: bool
) -> None:
    config, index, store, book, alerts, _ = world
    v = config.village[0]
    days = [dt.date(2026, 5, 1) + dt.timedelta(days=i) for i in range(3)]
    for d in days:  # three dry days on a dry probe: water due on 4 May (test_risk_watch)
        write_day(config, index, store, d, range(0), temp_c=[14.0 + 10.0 * (8 <= h < 18) for h in range(24)])
        write_soil(config, index, store, d, 10.0)
    now = local_midnight_ms(v, dt.date(2026, 5, 4)) + HOUR
    rain = 100.0  # 186.6 mm short, RAW 107.6, ETc 4.7: 100 mm today brings it back within RAW
    source = Fixed(200, json.dumps({"daily": {"time": ["2026-05-04", "2026-05-05"], "precipitation_sum": [rain, 0.0],
                                              "precipitation_probability_max": [chance, 5]}}))  # fmt: skip
    forecasts = Forecasts(config, source.url, clock=lambda: now / 1000)
    try:
        assert forecasts.refresh()
        RiskWatch(config, index, store, book, alerts, alerts, forecasts=forecasts).tick(now)
    finally:
        forecasts.close()
        source.stop()
    water = next(r for r in book.risks(v.id, "2026-05-03") if (r.site, r.model) == ("or01", "irrigation"))
    assert water.detail["rain_deferred"] is deferred
    assert water.detail["forecast"] == source.url.split("/")[2]
    if deferred:
        assert water.detail["forecast_rain_mm"] == 100.0 and water.detail["days_left"] > 0
        assert water.risk < Risk.HIGH and irrigation_alerts(alerts, v.id) == []
    else:  # a 30 % chance is not waited for
        assert water.detail["forecast_rain_mm"] == 0.0 and water.detail["days_left"] == 0
        assert water.risk == Risk.HIGH and len(irrigation_alerts(alerts, v.id)) == 1
    earlier = next(r for r in book.risks(v.id, "2026-05-02") if (r.site, r.model) == ("or01", "irrigation"))
    assert earlier.detail["forecast"] is None  # only the newest day's advice has a forecast
