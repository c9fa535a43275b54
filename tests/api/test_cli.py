"""`qyb users` and `qyb api` as an operator runs them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, qyb, wait_for

pytestmark = pytest.mark.slow  # starts processes or a browser: `-m 'not slow'` skips it


def _env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QYB_")}
    env["QYB_DB"] = str(db)
    return env


def test_users_issue_a_login_link_the_api_accepts_and_revoke_it(tmp_path: Path) -> None:
    env = _env(tmp_path / "qyb.sqlite")
    out = qyb("users", "add", "li-new", "--name", "李新", "--phone", "13900000001", "--site", "gh07", env=env).stdout
    assert "李新" in out
    again = qyb("users", "add", "li-new", "--name", "李新", "--phone", "13900000001", "--site", "gh07", env=env)
    assert again.returncode == 0  # the CLI replaces on purpose: "add (or replace)"
    printed = qyb("users", "token", "li-new", "--base-url", "http://village.example", env=env).stdout
    token = printed.split("#token=")[1].split()[0]
    assert f"http://village.example/#token={token}" in printed
    listing = qyb("users", "list", env=env).stdout
    assert "li-new" in listing and token not in listing  # only hash prefixes are shown

    port = free_port()
    log = tmp_path / "api.log"
    import subprocess

    with open(log, "wb") as out_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qyb", "api", "--port", str(port)], env=env, stdout=out_file, stderr=out_file
        )
    try:
        wait_for(lambda: _up(port), 20, "qyb api to answer /healthz")
        me = httpx.get(f"http://127.0.0.1:{port}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["sites"] == ["gh07"]
        prefix = next(line.split("tokens: ")[1] for line in listing.splitlines() if line.startswith("li-new"))
        assert "revoked 1 token" in qyb("users", "revoke", prefix, env=env).stdout
        gone = httpx.get(f"http://127.0.0.1:{port}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert gone.status_code == 401
    finally:
        proc.terminate()
        proc.wait(10)
    bad = qyb("users", "token", "nobody", env=env, check=False)
    assert bad.returncode == 2 and "no person 'nobody'" in bad.stderr


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
