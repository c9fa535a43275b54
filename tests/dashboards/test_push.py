"""`qyb dashboards push` against a local receiver that keeps Grafana's documented HTTP API semantics.

No Grafana server can run here. The receiver checks each request as Grafana's HTTP API documents it
(Bearer token, 401 otherwise; /api/folders, /api/datasources[/uid/:uid], /api/dashboards/db with
folderUid, message and overwrite, /api/dashboards/uid/:uid and its versions; a dashboard saved with a
stale version and overwrite false is 412 version-mismatch) and keeps what a Grafana would keep (versions
with their messages; data sources' secrets only as secureJsonFields).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

TOKEN = "glsa_test_token"


class FakeGrafana:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        self.folders: dict[str, dict[str, Any]] = {}
        self.sources: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, list[dict[str, Any]]] = {}
        self.fail_with: int | None = None
        self.save_between = False  # someone saves in the UI between the push's read and its write
        outer = self

        class H(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n)) if n else None
                outer.requests.append((method, self.path, body))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._answer(401, {"message": "Unauthorized"})
                if outer.fail_with:
                    return self._answer(outer.fail_with, {"message": "Internal Server Error"})
                self._answer(*outer.route(method, self.path, body))

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = path.split("?")[0].strip("/").split("/")
        if parts[:2] == ["api", "folders"]:
            if method == "POST":
                assert set(body) == {"uid", "title"}
                self.folders[body["uid"]] = body
                return 200, body
            uid = parts[2]
            if method == "PUT":
                self.folders[uid]["title"] = body["title"]
                return 200, self.folders[uid]
            return (200, self.folders[uid]) if uid in self.folders else (404, {"message": "folder not found"})
        if parts[:2] == ["api", "datasources"]:
            if method == "POST":
                assert {"name", "type", "uid", "url", "access"} <= set(body)
                self.store_source(body)
                return 200, {"message": "Datasource added", "datasource": body}
            uid = parts[3]
            if method == "PUT":
                self.store_source(body)
                return 200, {"message": "Datasource updated"}
            return (200, self.sources[uid]) if uid in self.sources else (404, {"message": "Data source not found"})
        if parts[:3] == ["api", "dashboards", "db"]:
            return self.save(body)
        if parts[:3] == ["api", "dashboards", "uid"]:
            uid = parts[3]
            if len(parts) == 5 and parts[4] == "versions":
                newest = sorted(self.versions.get(uid, []), key=lambda v: -v["version"])[:1]
                if self.save_between:  # after the push has read the dashboard and its versions
                    self.ui_save(uid, self.dashboards[uid]["title"] + "（刚改）")
                return 200, newest
            if uid not in self.dashboards:
                return 404, {"message": "Dashboard not found"}
            d = self.dashboards[uid]
            return 200, {"dashboard": d, "meta": {"folderUid": "qingyubiao", "version": d["version"]}}
        return 404, {"message": "not found"}

    def store_source(self, body: dict[str, Any]) -> None:
        kept = {k: v for k, v in body.items() if k != "secureJsonData"}
        kept["secureJsonFields"] = {k: True for k in body.get("secureJsonData", {})}
        self.sources[body["uid"]] = kept

    def save(self, body: dict[str, Any]) -> tuple[int, Any]:
        assert set(body) == {"dashboard", "folderUid", "message", "overwrite"}, body
        d, uid = dict(body["dashboard"]), body["dashboard"]["uid"]
        old = self.dashboards.get(uid)
        if old is not None and not body["overwrite"] and d.get("version") != old["version"]:
            return 412, {"status": "version-mismatch", "message": "The dashboard has been changed by someone else"}
        d["id"], d["version"] = (old or {}).get("id", len(self.dashboards) + 1), (old or {"version": 0})["version"] + 1
        self.dashboards[uid] = d
        self.versions.setdefault(uid, []).append({"version": d["version"], "message": body["message"]})
        return 200, {"status": "success", "uid": uid, "version": d["version"]}

    def ui_save(self, uid: str, title: str) -> None:
        """What a person saving in Grafana's editor does: a new version, their own (empty) message."""
        d = dict(self.dashboards[uid]) | {"title": title}
        d["version"] += 1
        self.dashboards[uid] = d
        self.versions[uid].append({"version": d["version"], "message": ""})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    g = FakeGrafana()
    yield g
    g.stop()


def push(url: str, *extra: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QYB_")} | {
        "QYB_INFLUX_URL": "http://10.0.0.5:8086",
        "QYB_INFLUX_DATABASE": "qyb",
        "QYB_INFLUX_TOKEN": "influx-secret",
        "QYB_GRAFANA_TOKEN": token,
    }
    return subprocess.run([sys.executable, "-m", "qyb", "dashboards", "push", "--url", url, *extra], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_a_first_push_creates_everything_and_a_second_changes_nothing(grafana: FakeGrafana) -> None:
    first = push(grafana.url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith("38 created, 0 updated, 0 unchanged, 0 refused")  # folder, 2 sources, 35
    assert grafana.folders == {"qingyubiao": {"uid": "qingyubiao", "title": "晴雨表"}}
    influx = grafana.sources["qyb-influxdb"]
    assert influx["url"] == "http://10.0.0.5:8086" and influx["jsonData"]["dbName"] == "qyb"
    assert influx["secureJsonFields"] == {"httpHeaderValue1": True}
    [sent] = [b for m, p, b in grafana.requests if p == "/api/datasources" and b["uid"] == "qyb-influxdb"]
    assert sent["secureJsonData"] == {"httpHeaderValue1": "Token influx-secret"}  # the API gets the value itself
    saves = [b for m, p, b in grafana.requests if p == "/api/dashboards/db"]
    assert len(saves) == 35 and all(b["overwrite"] is False and b["folderUid"] == "qingyubiao" for b in saves)
    assert all(b["message"].startswith("qyb ") and b["dashboard"]["id"] is None for b in saves)
    grafana.requests.clear()
    second = push(grafana.url)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().endswith("0 created, 0 updated, 38 unchanged, 0 refused")
    assert [m for m, *_ in grafana.requests if m != "GET"] == []  # nothing written


def test_a_dashboard_edited_in_grafana_is_not_overwritten_without_force(grafana: FakeGrafana) -> None:
    assert push(grafana.url).returncode == 0
    grafana.ui_save("qyb-lijiahe-overview", "书记改过的总览")
    refused = push(grafana.url)
    assert refused.returncode == 3
    assert "qyb-lijiahe-overview" in refused.stdout and "refused  (edited in Grafana" in refused.stdout
    assert grafana.dashboards["qyb-lijiahe-overview"]["title"] == "书记改过的总览"
    forced = push(grafana.url, "--force")
    assert forced.returncode == 0 and "1 updated" in forced.stdout
    assert grafana.dashboards["qyb-lijiahe-overview"]["title"] == "李家河村 全村总览"
    last = [b for m, p, b in grafana.requests if p == "/api/dashboards/db"][-1]
    assert last["overwrite"] is True


def test_a_changed_generator_updates_what_qyb_pushed(grafana: FakeGrafana) -> None:
    assert push(grafana.url).returncode == 0
    english = push(grafana.url, "--lang", "en")
    assert english.returncode == 0, english.stderr
    assert "35 updated" in english.stdout and grafana.dashboards["qyb-lijiahe-overview"]["title"].endswith("overview")
    saved = [b for m, p, b in grafana.requests if p == "/api/dashboards/db"][-1]
    assert saved["overwrite"] is False and saved["dashboard"]["version"] == 1  # Grafana's version: a race is a 412


def test_a_save_in_grafana_during_the_push_is_a_412_not_a_loss(grafana: FakeGrafana) -> None:
    assert push(grafana.url).returncode == 0
    grafana.save_between = True
    r = push(grafana.url, "--lang", "en")
    assert r.returncode == 1
    [line] = r.stderr.strip().splitlines()
    assert "Grafana answered 412 to POST /api/dashboards/db: The dashboard has been changed by someone else" in line
    assert grafana.dashboards["qyb-lijiahe-frost"]["title"].endswith("（刚改）")  # the person's save is kept


@pytest.mark.parametrize(
    ("setup", "said"),
    [
        ("token", "Grafana refused the token (401): check QYB_GRAFANA_TOKEN"),
        ("500", "Grafana answered 500 to GET /api/folders/qingyubiao: Internal Server Error"),
        ("url", "cannot be reached: ConnectError"),
    ],
)
def test_failures_are_one_clear_line_and_a_non_zero_exit(grafana: FakeGrafana, setup: str, said: str) -> None:
    if setup == "500":
        grafana.fail_with = 500
    url = "http://127.0.0.1:9" if setup == "url" else grafana.url
    r = push(url, token="wrong" if setup == "token" else TOKEN)
    assert r.returncode == 1
    [line] = r.stderr.strip().splitlines()
    assert said in line and "Traceback" not in r.stderr
    assert not grafana.dashboards


def test_without_a_token_nothing_is_sent(grafana: FakeGrafana) -> None:
    r = push(grafana.url, token="")
    assert r.returncode == 2 and "QYB_GRAFANA_TOKEN" in r.stderr and grafana.requests == []
