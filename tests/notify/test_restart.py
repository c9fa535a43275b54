"""Kill the dispatcher mid-delivery (SIGKILL while a receiver holds the request) and restart it.

What we guarantee: every notice is delivered; the request that was in flight
is resent with the same idempotency key where the receiver dedups by it
(village app webhook, MQTT, feed), and is not resent where it would show twice
(WeCom, DingTalk, SMS, loudspeaker: marked `uncertain`; it had reached the receiver here).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from alerts.notify.build import build_notifications
from alerts.notify.writer import NotifyingWriter
from ingest.store.sqlite_alerts import SqliteAlertStore
from tests.conftest import REPO
from tests.notify.conftest import Clock, Receiver, at, drive, notify_config, transition

SITES = ["gh01", "gh02", "gh03", "gh04", "gh05", "gh06"]


@pytest.mark.parametrize("held", ["webhook", "wecom"])
def test_kill_mid_delivery_then_restart_loses_nothing_and_duplicates_nothing(
    receivers: dict[str, Receiver], tmp_path: Path, held: str
) -> None:
    db = tmp_path / "qyb.sqlite"
    config = notify_config(receivers, group_wait_s=0)
    clock = Clock(at("2026-07-15 14:00"))
    store = SqliteAlertStore(db)
    first = build_notifications(config, db, now_ms=clock.ms)
    writer = NotifyingWriter(store, first.outbox, first.router)
    for i, site in enumerate(SITES):
        start = clock.ms - 20 * 60_000
        writer.queue([transition(site=site, ts=clock.ms + i, start=start)], clock.ms)
        writer.queue([transition(site=site, state="resolved", value=30.0, ts=clock.ms + 600_000 + i, start=start)],
                     clock.ms)  # fmt: skip
    first.close()
    receivers[held].hold_at = 2  # the third request waits: the dispatcher is mid-delivery
    (tmp_path / "config.json").write_text(json.dumps(config.model_dump(mode="json")), encoding="utf-8")
    log = (tmp_path / "child.log").open("wb")
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.notify.run_dispatcher", str(tmp_path / "config.json"), str(db), str(clock.ms)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    try:
        assert receivers[held].held.wait(30), (tmp_path / "child.log").read_text()
        child.kill()
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        log.close()
    receivers[held].release.set()
    receivers[held].hold_at = None

    clock.advance(3600)
    again = build_notifications(config, db, now_ms=clock.ms)
    assert again.dispatcher.uncertain == (1 if held == "wecom" else 0)
    drive(again.dispatcher, clock, 120, until=lambda: not again.outbox.targets(clock.ms))
    db_ = again.outbox._db
    counts = again.outbox.status_counts()
    total = db_.execute("SELECT count(*) FROM notify_message").fetchone()[0]
    assert counts == ({"sent": total} if held == "webhook" else {"sent": total - 2, "uncertain": 2})  # one site's pair

    # the village app: dedup by Idempotency-Key gives every event exactly once, in order per site
    hooks = receivers["webhook"].accepted()
    seen: dict[str, list[str]] = {}
    for r in hooks:
        events = [e["key"] for e in r.json()["events"]]
        assert seen.setdefault(r.headers["Idempotency-Key"], events) == events  # a resend is the same request
    keys = [k for events in seen.values() for k in events]
    assert len(keys) == len(set(keys)) == 2 * len(SITES)
    assert len(hooks) == len(seen) + (1 if held == "webhook" else 0)  # exactly one resend, of the one in flight
    for site in SITES:
        states = [k.split("|")[1] for k in keys if f"/{site}-air/" in k]
        assert states == ["firing", "resolved"]

    # WeCom: every site's message exactly once (the one in flight had arrived, and was not resent)
    texts = [r.json()["text"]["content"] for r in receivers["wecom"].accepted()]
    assert len(texts) == len(set(texts)) == len(SITES)
    for site, content in zip(SITES, texts, strict=True):
        assert content.count(f"{int(site[2:])}号棚") == 2  # its firing and its resolved line, together
    again.close()
    store.close()


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
