"""`qyb api` (serve the API and pages with uvicorn) and `qyb users` (people and tokens)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qingyubiao.config import Config, Person, load_config
from qingyubiao.notifying import notify_settings
from qingyubiao.series import SeriesIndex

if TYPE_CHECKING:
    from fastapi import FastAPI
    from pydantic import BaseModel

    from alerts.rules import RuleSet

log = logging.getLogger("qyb.api")
RULES_ENV = "QYB_ALERT_RULES"  # the same file the collector reads (qyb/alerts_cmd.py)


def add_api_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for the village network)")
    c.add_argument("--port", type=int, default=8000)
    c.add_argument("--stream-poll", type=float, default=2.0, help="seconds between store polls of the live stream")


def add_users_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--village", help="village id (default: the config's first)")
    sub = c.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="add (or replace) a person")
    add.add_argument("id")
    add.add_argument("--name", required=True)
    add.add_argument("--phone", required=True)
    add.add_argument("--role", choices=["farmer", "secretary", "admin"], default="farmer")
    add.add_argument("--household")
    add.add_argument("--site", action="append", default=[], help="a site this person looks after (repeatable)")
    token = sub.add_parser("token", help="issue a token for a person and print a login link")
    token.add_argument("person")
    token.add_argument("--label", default="")
    token.add_argument("--base-url", default="http://127.0.0.1:8000", help="where the pages are served")
    revoke = sub.add_parser("revoke", help="revoke a token by its hash prefix, or all tokens of --person")
    revoke.add_argument("hash_prefix", nargs="?")
    revoke.add_argument("--person")
    sub.add_parser("list", help="people and their tokens (hash prefixes only)")


class AlertRuleBook:
    """The alert core's rules for the API: bundled crop profiles plus the village's file (QYB_ALERT_RULES).

    Overrides are appended to that file as `[[override]]` tables (later ones win, comments survive);
    the collector reads the file when it starts.
    """

    def __init__(self, config: Config, path: str | None) -> None:
        self.config = config
        self.path = path

    def _set(self) -> RuleSet:
        from alerts.rules import deployment_rules

        # the village's file is created by the first edit
        return deployment_rules(self.path if self.path and Path(self.path).exists() else None)

    @staticmethod
    def _dump(model: BaseModel) -> dict[str, object]:
        out: dict[str, object] = model.model_dump(mode="json", by_alias=True)
        return out

    def rules(self) -> list[dict[str, object]]:
        return [self._dump(r) for r in self._set().rule]

    def in_force(self, village: str, site: str) -> list[dict[str, object]]:
        rs = self._set()
        v = self.config.village_by_id(village)
        s = next(x for x in v.site if x.id == site)
        out = []
        for rule in rs.rule:
            sc = rule.scope
            if (
                (sc.crop and s.crop not in sc.crop)
                or (sc.stage and s.stage not in sc.stage)
                or (sc.site and s.id not in sc.site)
                or (sc.kind and s.kind not in sc.kind)
            ):
                continue
            applied = rs.for_site(rule, site)
            if applied is not None:
                out.append(self._dump(applied))
        return out

    def overrides(self) -> list[dict[str, object]]:
        return [self._dump(o) for o in self._set().override]

    def set_override(self, override: dict[str, object]) -> dict[str, object]:
        from pydantic import ValidationError

        from alerts.rules import RulesError, bundled_rules, parse_rules

        if not self.path:
            raise PermissionError(f"设置 {RULES_ENV} 指向村里的规则文件后才能修改 / set {RULES_ENV} to edit rules")
        lines = ["", "[[override]]"]
        for key, value in override.items():
            if isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, int | float):
                lines.append(f"{key} = {value!r}")
            elif isinstance(value, list | tuple):
                lines.append(f"{key} = [{', '.join(repr(float(x)) for x in value)}]")
            else:
                lines.append(f"{key} = {json.dumps(str(value), ensure_ascii=False)}")
        block = "\n".join(lines) + "\n"
        file = Path(self.path)
        old = file.read_text(encoding="utf-8") if file.exists() else ""
        try:
            parsed = parse_rules(old + block, str(file))  # the whole file must stay valid
            # an override is not checked against its rule by the parser: check the rule it makes for the site
            merged = bundled_rules().merged(parsed)
            rule = next(r for r in merged.rule if r.id == override["rule"])
            applied = merged.for_site(rule, str(override["site"]))
            if applied is not None:
                type(rule).model_validate(applied.model_dump(by_alias=True))
        except (RulesError, StopIteration) as e:
            raise ValueError(str(e) or f"no rule {override['rule']!r}") from None
        except ValidationError as e:
            raise ValueError(f"{override['rule']} for {override['site']}: {e.errors()[0]['msg']}") from None
        file.write_text(old + block, encoding="utf-8")
        return self._dump(parsed.override[-1])


def open_api_stores(config: Config, index: SeriesIndex) -> dict[str, Any]:
    """The stores the API reads, opened on the configured SQLite file."""
    from alerts.notify.outbox import Outbox
    from api.users import UserStore
    from ingest.store.sqlite import SqliteStore
    from ingest.store.sqlite_alerts import SqliteAlertStore

    db = config.deployment.store.db
    # Create the schema and series ids if the collector has not yet, so the reader knows every series.
    SqliteStore(db, index, synchronous=config.deployment.store.synchronous).close()
    reader = SqliteStore(db, index, readonly=True)
    # the collector's outbox, read only: the phone page's notices and the ack links' references
    outbox = Outbox(db, readonly=True)
    return {
        "feed": outbox,
        "ack_refs": outbox,
        "reader": reader,
        "ingest_log": reader,
        "device_statuses": reader.device_statuses,
        "alerts": SqliteAlertStore(db),
        "users": UserStore(db, config),
        "rules": AlertRuleBook(config, os.environ.get(RULES_ENV)),
    }


def build_app(config: Config, stream_poll_s: float = 2.0) -> FastAPI:
    from api.app import create_app

    index = SeriesIndex(config)
    ack_secret = notify_settings(config, os.environ).ack_secret  # the collector signs with the same one
    return create_app(
        config, index=index, stream_poll_s=stream_poll_s, ack_secret=ack_secret, **open_api_stores(config, index)
    )


def run_api(args: argparse.Namespace) -> int:
    import uvicorn

    config = load_config(args.config)
    app = build_app(config, args.stream_poll)
    print(f"晴雨表 API on http://{args.host}:{args.port}/  (docs: /api/v1/docs; store {config.deployment.store.db})")
    uvicorn.run(app, host=args.host, port=args.port, log_level="info" if args.verbose else "warning")
    return 0


def run_users(args: argparse.Namespace) -> int:
    from api.users import UserStore

    config = load_config(args.config)
    village = args.village or config.village[0].id
    config.village_by_id(village)
    Path(config.deployment.store.db).parent.mkdir(parents=True, exist_ok=True)
    users = UserStore(config.deployment.store.db, config)
    try:
        if args.action == "add":
            person = Person(
                id=args.id,
                name=args.name,
                phone=args.phone,
                role=args.role,
                household=args.household,
                sites=args.site,
            )
            users.add_person(village, person, replace=True)  # documented: "add (or replace)"
            print(f"added {person.name} ({person.id}, {person.role}) to {village}")
        elif args.action == "token":
            token = users.issue(village, args.person, args.label)
            days = config.deployment.api.token_ttl_days
            print(f"token for {args.person} (shown once, stored hashed; {days:g} days, renewed by every use):")
            print(f"  {token}")
            print(f"login link:\n  {args.base_url.rstrip('/')}/#token={token}")
        elif args.action == "revoke":
            if args.person:
                n = users.revoke_person(village, args.person)
            elif args.hash_prefix:
                n = users.revoke(args.hash_prefix)
            else:
                raise ValueError("give a token hash prefix or --person")
            print(f"revoked {n} token(s)")
        else:
            tokens = users.tokens(village)
            for p in users.people(village):
                mine = [t for t in tokens if t.person == p.id]
                live = ", ".join(t.hash_prefix for t in mine if t.revoked_ms is None) or "-"
                print(f"{p.id:<16} {p.name:<8} {p.role:<9} tokens: {live}")
    finally:
        users.close()
    return 0


class DemoPages:
    """The API and pages served from a thread of `qyb demo`, with login links for a farmer and the secretary."""

    def __init__(self, config: Config, port: int) -> None:
        import threading

        import uvicorn

        self.base = f"http://127.0.0.1:{port}"
        app = build_app(config, stream_poll_s=1.0)
        users = app.state.api.users
        village = config.village[0]
        farmer = next(p for p in village.person if p.role == "farmer" and village.sites_of(p))
        secretary = next(p for p in village.person if p.role == "secretary")
        farmer_token = users.issue(village.id, farmer.id, "demo")
        secretary_token = users.issue(village.id, secretary.id, "demo")
        self.links = {
            f"农户 {farmer.name} 的手机页 (phone page)": f"{self.base}/#token={farmer_token}",
            f"{secretary.name} 的全村总览 (overview)": f"{self.base}/overview#token={secretary_token}",
        }
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, name="api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)  # print the links only once they answer

    @property
    def banner(self) -> str:
        lines = [f"  pages         {name}\n                {url}" for name, url in self.links.items()]
        return "\n".join(lines) + f"\n  API docs      {self.base}/api/v1/docs\n"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)
