"""Fixtures for notifications: local HTTP receivers that record the exact request, a village config
with every channel pointed at them, transitions and a fake clock."""

from __future__ import annotations

import json
import threading
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from qingyubiao.alerting import Transition
from qingyubiao.config import Config, bundled_config_path, parse_config

TZ = ZoneInfo("Asia/Shanghai")
SECRET = "village-app-shared-secret"
DING_SECRET = "SEC0123456789abcdef"
ACK_SECRET = "ack-link-secret"
SMS_KEY = "sms-api-key"


def at(text: str) -> int:
    """'2026-07-15 14:00' in the village's time → epoch ms."""
    return int(datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp() * 1000)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on a free loopback port that records every request.

    `fail(n, status)` answers the next n requests with `status`; `hold` makes the
    handler wait (the request has arrived) until released; with `lose_held` the
    held request never gets through (weak 4G): it is recorded with status 0, not
    acted on and never answered; `reply` is the body of a successful answer
    (robots answer {"errcode": 0}).
    """

    reply: bytes = b'{"errcode":0,"errmsg":"ok"}'
    requests: list[Request] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    hold_at: int | None = None  # hold the request with this index (0-based)
    lose_held: bool = False  # the held request is lost: never accepted, never answered
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail(self, n: int, status: int = 500) -> None:
        self.failures += [status] * n

    def accepted(self) -> list[Request]:
        return [r for r in self.requests if 200 <= r.status < 300]

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                parts = urlsplit(self.path)
                with lock:
                    index = len(receiver.requests)
                    status = receiver.failures.pop(0) if receiver.failures else 200
                    lost = receiver.hold_at == index and receiver.lose_held
                    status = 0 if lost else status
                    req = Request("POST", parts.path, parse_qs(parts.query), dict(self.headers), body, status)
                    receiver.requests.append(req)
                if receiver.hold_at == index:
                    receiver.held.set()
                    receiver.release.wait(30)
                    if lost:
                        return  # the connection closes without an answer
                reply = receiver.reply if status == 200 else b'{"error":"try later"}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    pass  # the client is gone (killed mid-delivery)

            def log_message(self, *args: object) -> None:
                pass

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    rs = {name: Receiver() for name in ("webhook", "wecom", "dingtalk", "sms")}
    rs["webhook"].reply = b'{"ok":true}'
    rs["sms"].reply = b'{"code":"OK"}'
    for r in rs.values():
        r.start()
    yield rs
    for r in rs.values():
        r.stop()


def notify_config(
    receivers: dict[str, Receiver] | None = None,
    mqtt_url: str | None = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
    **notify: Any,
) -> Config:
    """The bundled 李家河村 with deployment.notify pointed at the local receivers."""
    raw = tomllib.loads(Path(bundled_config_path()).read_text(encoding="utf-8"))
    settings: dict[str, Any] = {"ack_secret": ACK_SECRET, "public_url": "https://qyb.example.cn", "mqtt": False}
    if receivers:
        settings["webhook"] = {"url": receivers["webhook"].url + "/hooks/qyb", "secret": SECRET}
        settings["wecom"] = {"url": receivers["wecom"].url + "/cgi-bin/webhook/send?key=robot-key-1"}
        settings["dingtalk"] = {"url": receivers["dingtalk"].url + "/robot/send?access_token=ding-token",
                                "secret": DING_SECRET}  # fmt: skip
        settings["sms"] = {"url": receivers["sms"].url + "/sms/send", "api_key": SMS_KEY, "sign_name": "李家河村委",
                           "template": "SMS_123456"}  # fmt: skip
    if mqtt_url:
        settings["mqtt"] = True
        raw["deployment"]["mqtt"]["url"] = mqtt_url
    settings.update(notify)
    raw["deployment"]["notify"] = settings
    # crash-safe in WAL; power-loss safety is not under test
    raw["deployment"].setdefault("store", {})["synchronous"] = "NORMAL"
    if edit is not None:
        edit(raw)
    return parse_config(raw, "test", {})


def transition(
    site: str = "gh03",
    state: str = "firing",
    value: float = 38.2,
    threshold: float = 35.0,
    kind: str = "air_temp_high",
    severity: str = "warning",
    start: int | None = None,
    ts: int | None = None,
    audience: str = "farmer",
    rule: str | None = None,
    metric: str = "air_temp_c",
) -> Transition:
    ts = at("2026-07-15 14:00") if ts is None else ts
    start = ts - 15 * 60_000 if start is None else start
    rule = rule or f"test-{kind}-{severity}"
    device = f"{site}-air"
    return Transition(
        f"{rule}/lijiahe/{device}/{metric}@{start}", rule, kind, severity, audience, state, ts, "lijiahe", site,
        device, metric, value, threshold, text_zh=f"{site} 告警", text_en=f"{site} alert",
    )  # fmt: skip


class Clock:
    def __init__(self, start_ms: int) -> None:
        self.ms = start_ms

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> int:
        self.ms += int(seconds * 1000)
        return self.ms


def drive(dispatcher: Any, clock: Clock, seconds: float, step_s: float = 1.0, until: Callable[[], bool] | None = None
          ) -> None:  # fmt: skip
    """Run the dispatcher on the fake clock, one pass per step."""
    end = clock.ms + int(seconds * 1000)
    while clock.ms <= end:
        dispatcher.run_once(clock.ms)
        if until is not None and until():
            return
        clock.advance(step_s)
