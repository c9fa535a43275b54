"""`qyb demo` serves the pages and prints login links that work for the farmer and the secretary."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow  # starts processes or a browser: `-m 'not slow'` skips it


def test_demo_prints_working_login_links(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QYB_")}
    args = ["demo", "--data", str(tmp_path), "--port", str(free_port()), "--duration", "10", "--metrics-port", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "qyb", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stdout is not None
        links: list[str] = []
        for line in proc.stdout:
            links += re.findall(r"http://\S+#token=\S+", line)
            if "API docs" in line:
                break
        assert len(links) == 2, links
        phone, overview = links
        assert "/overview#" in overview and "/overview" not in phone
        for link, role in ((phone, "farmer"), (overview, "secretary")):
            base, token = link.split("#token=")
            root = base.split("/overview")[0].rstrip("/")
            assert httpx.get(base).status_code == 200  # the page itself
            me = httpx.get(f"{root}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200 and me.json()["role"] == role
    finally:
        proc.wait(60)
        if proc.stdout:
            proc.stdout.close()
    assert proc.returncode == 0
