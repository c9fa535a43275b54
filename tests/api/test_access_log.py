"""`qyb api --verbose` logs every request, and never the credential in it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from api.access_log import redact
from tests.api.test_cli import _env, _up
from tests.conftest import free_port, wait_for

SECRET = "s3cr3t-token-value"


def test_redact_keeps_the_route_and_drops_the_credential() -> None:
    assert redact(f"/api/v1/stream?access_token={SECRET}") == "/api/v1/stream?access_token=…"
    assert redact(f"/api/v1/export.csv?site=gh03&access_token={SECRET}&from=-24h") == (
        "/api/v1/export.csv?site=gh03&access_token=…&from=-24h"
    )
    assert redact(f"/a/{SECRET}") == "/a/…"
    assert redact(f"/a/{SECRET}?lang=en") == "/a/…?lang=en"
    assert redact("/api/v1/sites/gh03/a/b") == "/api/v1/sites/gh03/a/b"  # only an ack link's path is a token


@pytest.mark.slow
def test_the_access_log_of_qyb_api_shows_requests_without_tokens(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "api.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qyb", "api", "--port", str(port), "--verbose"],
            env=_env(tmp_path / "qyb.sqlite"),
            stdout=out,
            stderr=out,
        )
    try:
        wait_for(lambda: _up(port), 20, "qyb api to answer /healthz")
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/api/v1/villages/lijiahe/export.csv?access_token={SECRET}").status_code == 401
        link = httpx.get(f"{base}/a/{SECRET}").status_code  # 503 here: no ack secret is configured
        wait_for(lambda: "/a/…" in log.read_text(), 10, "the access log lines")
    finally:
        proc.terminate()
        proc.wait(10)
    text = log.read_text()
    assert '"GET /api/v1/villages/lijiahe/export.csv?access_token=… HTTP/1.1" 401' in text
    assert f'"GET /a/… HTTP/1.1" {link}' in text
    assert SECRET not in text
