"""`qyb alerts`: rule unit tests, the rules in force per site, and the open alerts."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from qingyubiao.config import load_config
from qyb.args import Command


def register(command: Command) -> None:
    """Add `qyb alerts ...` to the qyb parser."""
    c = command("alerts", _usage, "alert rules: test them, list them, show open alerts")
    sub = c.add_subparsers(metavar="ACTION")
    t = sub.add_parser("test", help="run rule unit tests (promtool style): qyb alerts test RULES_FILE CASES_FILE")
    t.add_argument("rules_file", metavar="RULES_FILE", help="rules and overrides to test (on top of the bundled ones)")
    t.add_argument("cases_file", metavar="CASES_FILE", help="input series and expected alerts")
    t.set_defaults(handler=_test)
    r = sub.add_parser("rules", help="the rules in force for each site (bundled profiles + QYB_ALERT_RULES)")
    r.add_argument("--site", help="only this site")
    r.set_defaults(handler=_rules)
    a = sub.add_parser("list", help="open alerts from the database (newest first)")
    a.add_argument("--all", action="store_true", help="also pending ones and maintainer alerts")
    a.set_defaults(handler=_list)
    s = sub.add_parser("silence", help="no paging for a site / rule / kind for a while (still recorded)")
    s.add_argument("--site")
    s.add_argument("--rule")
    s.add_argument("--kind")
    s.add_argument("--for", dest="duration", default="2h", help="how long, e.g. 90m, 2h, 1d (default 2h)")
    s.add_argument("--reason", required=True, help="why, e.g. 修棚膜 / film repair")
    s.add_argument("--by", required=True, help="who sets it")
    s.set_defaults(handler=_silence)
    k = sub.add_parser("ack", help="acknowledge an open alert: qyb alerts ack EPISODE --by WHO")
    k.add_argument("episode")
    k.add_argument("--by", required=True)
    k.set_defaults(handler=_ack)
    for p in (t, r, a, s, k):
        p.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="village config")
        p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)


def _usage(args: argparse.Namespace) -> int:
    print("usage: qyb alerts {test,rules,list} ... (qyb alerts --help)", file=sys.stderr)
    return 2


def _test(args: argparse.Namespace) -> int:
    from alerts.rules import RulesError, deployment_rules
    from alerts.ruletest import load_cases, run_cases

    config = load_config(args.config)
    try:
        rules = deployment_rules(args.rules_file)
        results = run_cases(config, rules, load_cases(args.cases_file), args.cases_file)
    except RulesError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    failed = 0
    for r in results:
        print(f"{'通过 ok  ' if r.ok else '失败 FAIL'} {r.name} ({r.checks} checks)")
        for f in r.failures:
            print(f"    {f}")
        failed += not r.ok
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed or not results else 0


def _rules(args: argparse.Namespace) -> int:
    from alerts.plan import compile_plan
    from alerts.rules import deployment_rules

    config = load_config(args.config)
    plan = compile_plan(config, deployment_rules(config.deployment.alerts.rules_file))
    seen: set[tuple[str, str]] = set()
    for s, key in enumerate(plan.keys):
        if args.site and key.site != args.site:
            continue
        for r in plan.rule_of[s]:
            if r < 0:
                continue
            rule = plan.rules[int(r)]
            if (key.site, rule.id) in seen:
                continue
            seen.add((key.site, rule.id))
            day, night = rule.band(True), rule.band(False)
            edge = 1 if rule.when == "above" else 0
            print(
                f"{key.site:<6} {rule.id:<36} {rule.severity:<9} {rule.metric}/{rule.signal} {rule.when} "
                f"day {day[edge]:g} night {night[edge]:g} for {rule.for_ // 60_000} min"
            )
    return 0


def _writable_store(args: argparse.Namespace):  # noqa: ANN202
    from ingest.store.sqlite_alerts import SqliteAlertStore

    config = load_config(args.config)
    return SqliteAlertStore(config.deployment.store.db)


def _silence(args: argparse.Namespace) -> int:
    import time
    import uuid

    from alerts.rules import duration_ms
    from qingyubiao.alerting import Silence

    if not (args.site or args.rule or args.kind):
        raise ValueError("say what to silence: --site, --rule and/or --kind")
    now = int(time.time() * 1000)
    silence = Silence(
        uuid.uuid4().hex[:12], args.by, args.reason, now, now + duration_ms(args.duration),
        site=args.site, rule=args.rule, kind=args.kind,
    )  # fmt: skip
    store = _writable_store(args)
    try:
        store.save_silence(silence)
    finally:
        store.close()
    print(f"silence {silence.id}: {args.site or '*'} / {args.rule or '*'} / {args.kind or '*'} for {args.duration}")
    return 0


def _ack(args: argparse.Namespace) -> int:
    import time

    store = _writable_store(args)
    try:
        ok = store.acknowledge(args.episode, args.by, int(time.time() * 1000))
    finally:
        store.close()
    print(
        f"已确认 acknowledged {args.episode}" if ok else f"no open alert {args.episode!r}",
        file=sys.stdout if ok else sys.stderr,
    )
    return 0 if ok else 1


def _list(args: argparse.Namespace) -> int:
    from ingest.store.sqlite_alerts import SqliteAlertStore

    config = load_config(args.config)
    db = Path(config.deployment.store.db)
    if not db.exists():
        raise FileNotFoundError(f"no database at {db} (set QYB_DB or deployment.store.db)")
    store = SqliteAlertStore(db, readonly=True)
    tz = ZoneInfo(config.village[0].tz)
    try:
        episodes = sorted(store.active_episodes(), key=lambda e: e.started_ms, reverse=True)
    finally:
        store.close()
    shown = [e for e in episodes if args.all or (e.state == "firing" and e.audience == "farmer")]
    for e in shown:
        when = datetime.fromtimestamp(e.started_ms / 1000, tz).strftime("%m-%d %H:%M")
        ack = f"  已确认 {e.ack_by}" if e.ack_by else ""
        print(f"{when}  {e.state:<8} {e.text_zh}{ack}\n{'':>13} {e.text_en}\n{'':>13} {e.id}")
    print(f"{len(shown)} open alerts")
    return 0
