"""The robot keys in WeCom and DingTalk webhook URLs never reach `qyb`'s log, even with --verbose."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow  # starts processes or a browser: `-m 'not slow'` skips it

SECRET = "0f3c-robot-key-9a1e"


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"errcode": 0}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def robot() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/cgi-bin/webhook/send?key={SECRET}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("verbose", [False, True])
def test_qyb_logging_leaves_request_urls_out(robot: str, verbose: bool) -> None:
    code = (
        "import logging, sys, httpx\n"
        "from qyb.cli import configure_logging\n"
        f"configure_logging({verbose})\n"
        "assert httpx.post(sys.argv[1], json={'msgtype': 'text'}).status_code == 200\n"
        "logging.getLogger('qyb.test').info('posted')\n"
    )
    run = subprocess.run([sys.executable, "-c", code, robot], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "posted" in run.stderr  # the log is on, at INFO or DEBUG
    assert SECRET not in run.stderr + run.stdout
