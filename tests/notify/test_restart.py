"""Kill the dispatcher mid-delivery (SIGKILL while a receiver holds the request) and restart it.

What we guarantee: every notice is delivered, nothing is lost. The request that
was in flight is sent again after the restart, before anything newer for its
receiver: with the same idempotency key where the receiver dedups by it
(village app webhook, MQTT, feed), and marked （可能重复） where it cannot (WeCom,
DingTalk, SMS, loudspeaker). So the group sees at worst one labelled duplicate
(the cut-off request had got through) or just the labelled resend (it had not).
Nothing else is sent twice, and a crash with nothing in flight repeats nothing.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from alerts.notify.build import build_notifications
from alerts.notify.writer import NotifyingWriter
from ingest.store.sqlite_alerts import SqliteAlertStore
from qingyubiao.config import Config
from tests.conftest import REPO
from tests.notify.conftest import Clock, Receiver, at, drive, notify_config, transition

SITES = ["gh01", "gh02", "gh03", "gh04", "gh05", "gh06"]
MARK = "（可能重复）"
ROBOTS = ("wecom", "dingtalk")


def queue_sites(config: Config, db: Path, clock: Clock, sites: list[str]) -> None:
    """Each site fires and clears (one message per site and channel with group_wait_s=0), then the
    queuing process goes away: only the dispatcher child delivers."""
    store = SqliteAlertStore(db)
    notes = build_notifications(config, db, now_ms=clock.ms)
    writer = NotifyingWriter(store, notes.outbox, notes.router)
    for i, site in enumerate(sites):
        start = clock.ms - 20 * 60_000
        writer.queue([transition(site=site, ts=clock.ms + i, start=start)], clock.ms)
        writer.queue([transition(site=site, state="resolved", value=30.0, ts=clock.ms + 600_000 + i, start=start)],
                     clock.ms)  # fmt: skip
    notes.close()
    store.close()


def start_child(config: Config, db: Path, clock: Clock, tmp_path: Path) -> tuple[subprocess.Popen[bytes], Any]:
    (tmp_path / "config.json").write_text(json.dumps(config.model_dump(mode="json")), encoding="utf-8")
    log = (tmp_path / "child.log").open("ab")
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.notify.run_dispatcher", str(tmp_path / "config.json"), str(db), str(clock.ms)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    return child, log


def kill(child: subprocess.Popen[bytes], log: Any) -> None:
    child.kill()  # SIGKILL: no cleanup, no last words
    child.wait(10)
    log.close()


def robot_text(channel: str, r: Any) -> str:
    body = r.json()
    return (
        body["text"]["content"] if channel == "wecom" else body["markdown"]["title"] + "\n" + body["markdown"]["text"]
    )


def site_of(text: str) -> str:
    [site] = [s for s in SITES if f"{int(s[2:])}号棚" in text]
    return site


def restart_and_deliver(config: Config, db: Path, clock: Clock) -> Any:
    clock.advance(3600)
    again = build_notifications(config, db, now_ms=clock.ms)
    drive(again.dispatcher, clock, 120, until=lambda: not again.outbox.targets(clock.ms))
    return again


@pytest.mark.slow
@pytest.mark.parametrize(
    ("held", "lost"),
    [("webhook", False), ("wecom", False), ("wecom", True), ("dingtalk", True)],
    ids=["webhook-arrived", "wecom-arrived", "wecom-lost", "dingtalk-lost"],
)
def test_kill_mid_request_then_restart_loses_nothing_and_marks_the_resend(
    receivers: dict[str, Receiver], tmp_path: Path, held: str, lost: bool
) -> None:
    db = tmp_path / "qyb.sqlite"
    config = notify_config(receivers, group_wait_s=0)
    clock = Clock(at("2026-07-15 14:00"))
    queue_sites(config, db, clock, SITES)
    receivers[held].hold_at = 2  # the third request is held open, never answered: the dispatcher is mid-request
    receivers[held].lose_held = lost  # ... and it either got through to the group or was lost on the way
    child, log = start_child(config, db, clock, tmp_path)
    try:
        assert receivers[held].held.wait(30), (tmp_path / "child.log").read_text()
        assert child.poll() is None  # still waiting for the answer when it dies
    finally:
        kill(child, log)
    receivers[held].release.set()
    receivers[held].hold_at = None

    again = restart_and_deliver(config, db, clock)
    assert again.dispatcher.recovered == [(held, "lijiahe")]
    outbox = again.outbox
    assert outbox.status_counts() == {"sent": outbox._db.execute("SELECT count(*) FROM notify_message").fetchone()[0]}
    # the attempt log tells the story: the cut-off try, then the recovery resend
    details = [r[0] for r in outbox._db.execute("SELECT detail FROM notify_attempt WHERE channel=? ORDER BY id",
                                                (held,))]  # fmt: skip
    assert details[2].startswith("no answer: in flight")
    assert details[3].startswith("recovery resend, " + ("same key" if held == "webhook" else "marked possible repeat"))
    assert sum("recovery" in d or "in flight" in d for d in details) == 2

    # the village app: dedup by Idempotency-Key gives every event exactly once, in order per site; never marked
    hooks = receivers["webhook"].accepted()
    seen: dict[str, list[str]] = {}
    for r in hooks:
        assert MARK not in r.body.decode()
        events = [e["key"] for e in r.json()["events"]]
        assert seen.setdefault(r.headers["Idempotency-Key"], events) == events  # a resend is the same request
    keys = [k for events in seen.values() for k in events]
    assert len(keys) == len(set(keys)) == 2 * len(SITES)
    assert len(hooks) == len(seen) + (1 if held == "webhook" else 0)  # exactly one resend, of the one in flight
    for site in SITES:
        assert [k.split("|")[1] for k in keys if f"/{site}-air/" in k] == ["firing", "resolved"]

    # the robots: every site once, in order; the one in flight once more (or only once, if it was lost), marked
    for name in ROBOTS:
        texts = [robot_text(name, r) for r in receivers[name].accepted()]
        got = [(site_of(t), t.startswith(MARK) or f"\n{MARK}" in t) for t in texts]
        want = [(s, False) for s in SITES]
        if name == held:
            want[2:3] = [(SITES[2], True)] if lost else [(SITES[2], False), (SITES[2], True)]
        assert got == want  # the resend went before anything newer for that robot
        for t in texts:
            assert t.count(f"{int(site_of(t)[2:])}号棚") == 2  # its firing and its resolved line, together
        if name == held:
            [resent] = [t for t in texts if MARK in t]
            assert resent.startswith(MARK + "【李家河晴雨表】") or resent.startswith(MARK + "李家河晴雨表")
    again.close()


@pytest.mark.slow
def test_a_crash_with_nothing_in_flight_repeats_nothing(receivers: dict[str, Receiver], tmp_path: Path) -> None:
    db = tmp_path / "qyb.sqlite"
    config = notify_config(receivers, group_wait_s=0)
    clock = Clock(at("2026-07-15 14:00"))
    queue_sites(config, db, clock, SITES[:3])
    child, log = start_child(config, db, clock, tmp_path)
    try:  # wait until everything is delivered and the child only idles
        peek = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        deadline = time.monotonic() + 30
        while peek.execute("SELECT count(*) FROM notify_message WHERE status!='sent'").fetchone()[0]:
            assert time.monotonic() < deadline, (tmp_path / "child.log").read_text()
            time.sleep(0.05)
        peek.close()
        assert child.poll() is None
    finally:
        kill(child, log)
    before = {name: len(r.requests) for name, r in receivers.items()}
    assert before == {name: 3 for name in receivers if name != "sms"} | {"sms": 0}  # warnings: no SMS

    queue_sites(config, db, clock, SITES[3:4])  # something new while it was down
    again = restart_and_deliver(config, db, clock)
    assert again.dispatcher.recovered == []
    for name, r in receivers.items():
        new = r.requests[before[name] :]
        assert [x.status for x in new] == ([] if name == "sms" else [200])  # only the new site, once
        assert all(MARK not in x.body.decode() for x in r.requests)
    assert not outbox_details_with(again.outbox, "recovery") and not outbox_details_with(again.outbox, "in flight")
    again.close()


def outbox_details_with(outbox: Any, word: str) -> list[str]:
    return [r[0] for r in outbox._db.execute("SELECT detail FROM notify_attempt WHERE detail LIKE ?", (f"%{word}%",))]


def test_the_alert_core_replaying_after_a_crash_queues_nothing_twice(tmp_path: Path) -> None:
    """Notices are queued before the alert store records; a crash between makes the restored engine
    produce the same transitions again, and the idempotency keys keep one copy."""
    db = tmp_path / "qyb.sqlite"
    config = notify_config(group_wait_s=0)
    clock = Clock(at("2026-07-15 14:00"))
    store = SqliteAlertStore(db)
    notes = build_notifications(config, db, now_ms=clock.ms)
    writer = NotifyingWriter(store, notes.outbox, notes.router)
    batch = [transition(site=s, severity="critical") for s in SITES]
    writer.queue(batch, clock.ms)  # ... and the process died before the alert store's commit
    first = notes.outbox._db.execute("SELECT key FROM notify_message ORDER BY id").fetchall()
    writer.queue(batch, clock.ms + 5_000)  # the restored engine produces the same transitions
    assert notes.outbox._db.execute("SELECT key FROM notify_message ORDER BY id").fetchall() == first
    assert len(first) == len(SITES) * 2  # the owner's and the secretary's feed: no other channel is set up
    notes.close()
    store.close()
