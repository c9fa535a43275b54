"""The twin's rain forecast, served as an Open-Meteo forecast API (`/v1/forecast`) on loopback.

The twin knows the weather it will make, so its forecast is the rain its weather will bring (a perfect
forecast, its chance 90 % on a day with rain, 5 % on a dry one). `qyb demo` points the collector's
`forecast_url` at it, and the tests use it as the local receiver of the collector's request: it answers
400 with Open-Meteo's `{"error": true, "reason": ...}` for a request the real API would refuse, and keeps
every request's parameters in `requests`."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from qingyubiao.config import Config
from sensors_sim.physics import Physics

WET_CHANCE, DRY_CHANCE = 90.0, 5.0


class TwinForecast:
    def __init__(self, config: Config, physics: Physics, clock: Any = None) -> None:
        import time

        self.config, self.physics, self.clock = config, physics, clock or time.time
        self.requests: list[dict[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, name="twin-forecast", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/forecast"

    def start(self) -> TwinForecast:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, q: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Open-Meteo's answer to these query parameters (status, body)."""
        try:
            lat, lon = float(q["latitude"]), float(q["longitude"])
        except (KeyError, ValueError):
            return 400, {"error": True, "reason": "Parameter 'latitude' and 'longitude' must be floating point numbers"}
        daily = q.get("daily", "").split(",")
        unknown = [x for x in daily if x not in ("precipitation_sum", "precipitation_probability_max")]
        if unknown:
            return 400, {
                "error": True,
                "reason": f"Cannot initialize ForecastVariableDaily from invalid String value {unknown[0]}",
            }
        try:
            tz = ZoneInfo(q["timezone"])
        except (KeyError, ZoneInfoNotFoundError, ValueError):
            return 400, {"error": True, "reason": "Timezone is required and must be valid for daily variables"}
        n = int(q.get("forecast_days", "7"))
        if not 0 <= n <= 16:
            return 400, {"error": True, "reason": "Forecast days is invalid. Allowed range 0 to 16."}
        vi = int(np.argmin([(v.lat - lat) ** 2 + (v.lon - lon) ** 2 for v in self.config.village]))
        weather = self.physics.weathers[int(self.physics.village_cell[vi])]
        today = dt.datetime.fromtimestamp(self.clock(), tz).date()
        dates = [today + dt.timedelta(days=k) for k in range(n)]
        noon = [dt.datetime(d.year, d.month, d.day, 12, tzinfo=tz).timestamp() for d in dates]
        first = int(weather.day_number(noon[0])) if n else 0
        rain = weather.days(first, n).rain_mm if n else np.zeros(0)
        body: dict[str, Any] = {"latitude": lat, "longitude": lon, "timezone": q["timezone"], "daily": {
            "time": [d.isoformat() for d in dates]}, "daily_units": {"time": "iso8601"}}  # fmt: skip
        if "precipitation_sum" in daily:
            body["daily"]["precipitation_sum"] = [round(float(x), 1) for x in rain]
            body["daily_units"]["precipitation_sum"] = "mm"
        if "precipitation_probability_max" in daily:
            body["daily"]["precipitation_probability_max"] = [WET_CHANCE if x > 0.1 else DRY_CHANCE for x in rain]
            body["daily_units"]["precipitation_probability_max"] = "%"
        return 200, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        twin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                twin.requests.append(q)
                status, body = (
                    twin.answer(q) if parts.path == "/v1/forecast" else (404, {"error": True, "reason": "Not Found"})
                )
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:  # the demo's terminal is for the newcomer
                pass

        return Handler
