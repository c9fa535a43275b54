"""What the API said yes to survives the process dying mid-burst (SIGKILL) and a power cut.

SIGKILL leaves the OS's page cache, so it proves the commit happened before the answer; a power cut
also loses that cache, which FULL synchronous (an fsync of the WAL at every commit) and an fsynced
rules file guard against: the second test checks those settings on every store the API writes.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import httpx
import pytest

from qingyubiao.config import load_config
from qyb.system import build_api
from tests.conftest import Mosquitto, free_port, qyb, qyb_env, spawn_qyb, wait_for, wait_port

V = "lijiahe"


def token_of(env: dict[str, str], person: str) -> str:
    return qyb("users", "token", person, env=env).stdout.split("#token=")[1].split()[0]


class Burst:
    """Writers posting until the API stops answering; what it said yes to is kept per kind."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.auth = base, {"Authorization": f"Bearer {token}"}
        self.said: dict[str, set[str]] = {"silence": set(), "person": set(), "override": set()}
        self.lock = threading.Lock()
        self.done = threading.Event()

    def post(self, client: httpx.Client, kind: str, path: str, body: dict[str, object], key: str) -> bool:
        method, ok = ("PUT", 200) if kind == "override" else ("POST", 201)
        try:
            r = client.request(method, f"{self.base}/api/v1/villages/{V}/{path}", json=body, headers=self.auth)
        except httpx.TransportError:  # killed
            return False
        assert r.status_code == ok, r.text
        with self.lock:
            self.said[kind].add(r.json()["id"] if kind == "silence" else key)
        return True

    def silences(self) -> None:
        with httpx.Client(timeout=10) as c:
            i = 0
            while self.post(c, "silence", "silences", {"reason": f"修棚膜 {i}", "duration_min": 60}, ""):
                i += 1

    def people(self) -> None:
        with httpx.Client(timeout=10) as c:
            i = 0
            while self.post(c, "person", "people", {"id": f"p{i:05d}", "name": f"村民{i}", "phone": "13800000000",
                                                     "role": "farmer"}, f"p{i:05d}"):  # fmt: skip
                i += 1

    def overrides(self) -> None:
        sites = [f"gh{n:02d}" for n in range(1, 25)]
        with httpx.Client(timeout=10) as c:
            i = 0
            while i < len(sites) and self.post(
                c, "override", "rules/overrides", {"site": sites[i], "rule": "vpd-dry-warning", "for": "45m"}, sites[i]
            ):
                i += 1

    def count(self) -> int:
        with self.lock:
            return sum(len(s) for s in self.said.values())


@pytest.mark.slow
def test_a_killed_api_kept_every_write_it_answered(mosquitto: Mosquitto, tmp_path: Path) -> None:
    db, port, rules = tmp_path / "qyb.sqlite", free_port(), tmp_path / "rules.toml"
    rules.write_text("")
    env = qyb_env(mosquitto, db, QYB_ALERT_RULES=str(rules), QYB_PUBLIC_URL=f"http://127.0.0.1:{port}")
    token = token_of(env, "secretary")
    api = spawn_qyb("api", "--port", str(port), env=env, log=tmp_path / "api.log")
    try:
        wait_port(port, 30)
        burst = Burst(f"http://127.0.0.1:{port}", token)
        writers = [threading.Thread(target=w) for w in (burst.silences, burst.people, burst.overrides)]
        for w in writers:
            w.start()
        wait_for(lambda: burst.count() >= 60, 60, "60 writes answered")
        api.kill()  # SIGKILL: mid-burst, writers still posting
        api.wait(10)
        for w in writers:
            w.join(20)
    finally:
        if api.poll() is None:
            api.kill()
    said = burst.said
    assert said["silence"] and said["person"] and said["override"], said
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        silences = {r[0] for r in conn.execute("SELECT id FROM alert_silence")}
        people = {r[0] for r in conn.execute("SELECT id FROM api_person WHERE village = ?", (V,))}
    assert said["silence"] <= silences and said["person"] <= people
    text = rules.read_text()
    assert all(f'site = "{s}"' in text for s in said["override"]), text
    # and the file is whole: the collector would parse it
    from alerts.rules import parse_rules

    assert len(parse_rules(text, str(rules)).override) >= len(said["override"])


def test_every_store_the_api_writes_commits_to_the_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QYB_DB", str(tmp_path / "qyb.sqlite"))
    app = build_api(load_config())
    state = app.state.api
    written = {"alerts": state.alerts, "users": state.users, "risks": state.risks, "water": state.water}
    for name, store in written.items():
        level = store._db.execute("PRAGMA synchronous").fetchone()[0]
        assert level == 2, f"{name}: synchronous={level}, FULL (2) keeps what was answered through a power cut"
