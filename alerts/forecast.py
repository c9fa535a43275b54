"""Rain forecasts for the water advice, from an Open-Meteo compatible forecast API.

Open-Meteo (open-meteo.com) answers without a key, covers China from the national and global models, and
is open source: a county can run its own and point `QYB_FORECAST_URL` at it. Each village's forecast is
fetched on a thread of its own every 3 hours (10 minutes after a failure), so a slow or absent 4G link
never holds up the collector's writer thread; without a URL, or while no forecast has arrived, the advice
runs on the recent water use alone and says nothing of rain. What counts of the rain is the agronomy's
(agronomy/water.py `advise`, docs/irrigation.md "Rain forecast")."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from qingyubiao.config import Config, Village
from qingyubiao.forecast import RainDay, RainForecast

log = logging.getLogger(__name__)

FORECAST_DAYS = 8  # today and a week: the advice looks at up to 7 days after the computed one
DAILY = "precipitation_sum,precipitation_probability_max"
REFRESH_S, RETRY_S = 3 * 3600.0, 600.0
TOO_OLD_MS = 24 * 3_600_000  # a forecast older than a day is no longer one


class ForecastError(Exception):
    """The forecast source failed or answered something that is not a forecast (the message says which)."""


class _Daily(BaseModel):
    time: list[str]
    precipitation_sum: list[float | None]
    precipitation_probability_max: list[float | None] | None = None


class _Answer(BaseModel):
    daily: _Daily


def query(v: Village) -> dict[str, str | float | int]:
    """The request's parameters: the village's point, the daily rain and its chance, in village dates."""
    return {"latitude": v.lat, "longitude": v.lon, "daily": DAILY, "timezone": v.tz, "forecast_days": FORECAST_DAYS}


def fetch(client: httpx.Client, url: str, v: Village, now_ms: int) -> RainForecast:
    host = urlsplit(url).netloc or url
    try:
        r = client.get(url, params=query(v))
    except httpx.HTTPError as e:
        raise ForecastError(f"{host}: {type(e).__name__}: {e}") from e
    if r.status_code != 200:
        try:
            reason = str(r.json().get("reason", r.text[:200]))
        except ValueError:
            reason = r.text[:200]
        raise ForecastError(f"{host}: HTTP {r.status_code}: {reason}")
    try:
        d = _Answer.model_validate_json(r.content).daily
    except ValidationError as e:
        raise ForecastError(f"{host}: not a daily forecast: {e.errors()[0]['msg']}") from e
    chances = d.precipitation_probability_max or [None] * len(d.time)
    if not len(d.time) == len(d.precipitation_sum) == len(chances):
        raise ForecastError(f"{host}: the daily lists differ in length")
    days = tuple(RainDay(day, mm, p) for day, mm, p in zip(d.time, d.precipitation_sum, chances, strict=True)
                 if mm is not None)  # fmt: skip
    return RainForecast(v.id, host, now_ms, days)


class Forecasts:
    """The newest rain forecast of each village, kept fresh by `start`'s thread (or `refresh` by hand)."""

    def __init__(
        self,
        config: Config,
        url: str,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config, self.url, self.clock = config, url, clock
        self.client = client or httpx.Client(timeout=20.0, headers={"User-Agent": "qingyubiao"})
        self._newest: dict[str, RainForecast] = {}
        self._lock = threading.Lock()
        self._version = 0
        self.failures = 0  # fetches that failed, all villages together (the log says why)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def get(self, village: str) -> RainForecast | None:
        with self._lock:
            f = self._newest.get(village)
        if f is None or self.clock() * 1000 - f.fetched_ms > TOO_OLD_MS:
            return None
        return f

    def version(self) -> int:
        """Changes with every forecast fetched (the models then run again)."""
        return self._version

    def refresh(self) -> bool:
        """Fetch every village's forecast; True when all arrived."""
        ok = True
        for v in self.config.village:
            try:
                f = fetch(self.client, self.url, v, int(self.clock() * 1000))
            except ForecastError as e:
                self.failures += 1
                ok = False
                log.warning("rain forecast for %s: %s (the advice goes on without it)", v.id, e)
                continue
            with self._lock:
                self._newest[v.id] = f
                self._version += 1
        return ok

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                self._stop.wait(REFRESH_S if self.refresh() else RETRY_S)

        self._thread = threading.Thread(target=loop, name="rain-forecast", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(25)
        self.client.close()
