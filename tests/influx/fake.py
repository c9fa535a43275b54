"""A strict local /api/v2/write receiver: records every request exactly and answers as scripted."""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: bytes  # as sent (gzip when the client compresses)
    body: str  # decompressed text
    status: int = 0  # what the fake answered


@dataclass
class Answer:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    delay_s: float = 0.0  # longer than the client's timeout: a timeout


class FakeInflux:
    """Answers scripted replies in order, then `default`; thread-safe."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.script: list[Answer] = []
        self.default = Answer()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                gz = self.headers.get("Content-Encoding") == "gzip"
                parts = urlsplit(self.path)
                req = Request(
                    parts.path,
                    {k: v[0] for k, v in parse_qs(parts.query).items()},
                    dict(self.headers.items()),
                    raw,
                    (gzip.decompress(raw) if gz else raw).decode(),
                )
                with fake._lock:
                    fake.requests.append(req)
                    answer = fake.script.pop(0) if fake.script else fake.default
                    req.status = answer.status
                if answer.delay_s:
                    time.sleep(answer.delay_s)
                self.send_response(answer.status)
                for k, v in answer.headers.items():
                    self.send_header(k, v)
                data = answer.body.encode()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def lines(self, ok_only: bool = True) -> list[str]:
        """Lines of the requests (answered 2xx when ok_only), in arrival order."""
        with self._lock:
            reqs = list(self.requests)
        return [line for r in reqs if r.status < 300 or not ok_only for line in r.body.split("\n") if line]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
