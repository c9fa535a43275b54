"""Push the village dashboards and data sources to a running Grafana through its HTTP API (httpx).

Idempotent and safe (docs/dashboards.md "Push"):

- the folder (uid `qingyubiao`) and the two data sources are created when missing, updated when they
  differ, and left alone otherwise;
- a dashboard is created when missing; when Grafana's copy equals ours it is `unchanged`; when it
  differs, it is updated only if Grafana's copy is still the one qyb pushed last — each push saves its
  version with the message `qyb <hash of the content>`, and the newest version's message must match the
  hash of what Grafana holds — else it was edited by hand and is `refused` unless `force`. The update sends
  Grafana's version number, so a save in Grafana between our read and our write is a 412, not a loss.

Why not grafana-client: docs/design.md "Grafana dashboards".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import httpx

FOLDER_UID = "qingyubiao"
SERVER_FIELDS = ("id", "version")  # what Grafana adds to a dashboard it stores


class PushError(Exception):
    """Grafana cannot be reached or refused a call; the message is one line for the operator."""


@dataclass(frozen=True)
class Outcome:
    kind: str  # folder | datasource | dashboard
    uid: str
    result: str  # created | updated | unchanged | refused


def content_hash(dashboard: dict[str, Any]) -> str:
    body = {k: v for k, v in dashboard.items() if k not in SERVER_FIELDS}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


class Grafana:
    def __init__(self, url: str, token: str, client: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        self.client = client or httpx.Client(timeout=20.0)
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,)) -> httpx.Response:
        try:
            r = self.client.request(method, self.url + path, json=body, headers=self.headers)
        except httpx.HTTPError as e:
            raise PushError(f"Grafana at {self.url} cannot be reached: {type(e).__name__}: {e}") from e
        if r.status_code in ok:
            return r
        if r.status_code in (401, 403):
            raise PushError(f"Grafana refused the token ({r.status_code}): check QYB_GRAFANA_TOKEN")
        try:
            message = str(r.json().get("message", r.text[:200]))
        except ValueError:
            message = r.text[:200]
        raise PushError(f"Grafana answered {r.status_code} to {method} {path}: {message}")

    def folder(self, title: str) -> Outcome:
        r = self.call("GET", f"/api/folders/{FOLDER_UID}", ok=(200, 404))
        if r.status_code == 200:
            if r.json().get("title") == title:
                return Outcome("folder", FOLDER_UID, "unchanged")
            self.call("PUT", f"/api/folders/{FOLDER_UID}", {"title": title, "overwrite": True})
            return Outcome("folder", FOLDER_UID, "updated")
        self.call("POST", "/api/folders", {"uid": FOLDER_UID, "title": title})
        return Outcome("folder", FOLDER_UID, "created")

    def datasource(self, ds: dict[str, Any]) -> Outcome:
        uid = ds["uid"]
        r = self.call("GET", f"/api/datasources/uid/{uid}", ok=(200, 404))
        if r.status_code == 404:
            self.call("POST", "/api/datasources", ds)
            return Outcome("datasource", uid, "created")
        have = r.json()
        # Grafana never returns a secret, only that it is set (secureJsonFields): a changed token needs force
        secrets_set = set(ds.get("secureJsonData", {})) <= {k for k, v in have.get("secureJsonFields", {}).items() if v}
        plain = {k: v for k, v in ds.items() if k != "secureJsonData"}
        if secrets_set and all(have.get(k) == v for k, v in plain.items()):
            return Outcome("datasource", uid, "unchanged")
        self.call("PUT", f"/api/datasources/uid/{uid}", ds)
        return Outcome("datasource", uid, "updated")

    def dashboard(self, d: dict[str, Any], force: bool = False) -> Outcome:
        uid = d["uid"]
        ours = content_hash(d)
        r = self.call("GET", f"/api/dashboards/uid/{uid}", ok=(200, 404))
        body: dict[str, Any] = {"folderUid": FOLDER_UID, "message": f"qyb {ours}", "overwrite": False}
        if r.status_code == 404:
            self.call("POST", "/api/dashboards/db", body | {"dashboard": d | {"id": None}})
            return Outcome("dashboard", uid, "created")
        stored = r.json()["dashboard"]
        theirs = content_hash(stored)
        if theirs == ours:
            return Outcome("dashboard", uid, "unchanged")
        if not force and self.last_message(uid) != f"qyb {theirs}":
            return Outcome("dashboard", uid, "refused")
        update = d | {"id": stored.get("id"), "version": stored.get("version")}
        self.call("POST", "/api/dashboards/db", body | {"dashboard": update, "overwrite": force})
        return Outcome("dashboard", uid, "updated")

    def last_message(self, uid: str) -> str | None:
        r = self.call("GET", f"/api/dashboards/uid/{uid}/versions?limit=1")
        data = r.json()
        versions = data.get("versions", []) if isinstance(data, dict) else data  # Grafana 12 wraps the list
        return str(versions[0].get("message", "")) if versions else None


def push(
    grafana: Grafana, folder: str, sources: list[dict[str, Any]], dashboards: dict[str, dict[str, Any]], force: bool
) -> list[Outcome]:
    out = [grafana.folder(folder)]
    out += [grafana.datasource(s) for s in sources]
    out += [grafana.dashboard(d, force) for _, d in sorted(dashboards.items())]
    return out
