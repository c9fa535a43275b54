"""What an operator sees of the outbox on /metrics, and in the log when a message is given up."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from alerts.notify.build import Notifications, build_notifications
from alerts.notify.writer import NotifyingWriter
from ingest.store.sqlite_alerts import SqliteAlertStore
from qingyubiao.config import Config
from tests.notify.conftest import Clock, Receiver, at, drive, notify_config, transition


def metered(config: Config, tmp_path: Path, clock: Clock) -> tuple[Notifications, NotifyingWriter, CollectorRegistry]:
    db = tmp_path / "qyb.sqlite"
    registry = CollectorRegistry()
    notes = build_notifications(config, db, now_ms=clock.ms, registry=registry)
    return notes, NotifyingWriter(SqliteAlertStore(db), notes.outbox, notes.router), registry


def scrape(registry: CollectorRegistry) -> dict[str, float]:
    """The exposition text as {'name{labels}': value}, as Prometheus would read it."""
    lines = generate_latest(registry).decode().splitlines()
    return {k: float(v) for k, v in (line.rsplit(" ", 1) for line in lines if not line.startswith("#"))}


def test_a_failing_receiver_shows_in_the_metrics(receivers: dict[str, Receiver], tmp_path: Path) -> None:
    receivers["wecom"].fail(3, 500)
    clock = Clock(at("2026-07-15 14:00"))
    notes, writer, registry = metered(notify_config(receivers, group_wait_s=0), tmp_path, clock)
    m = scrape(registry)
    assert m['qyb_notify_messages{status="failed"}'] == 0  # every series is there before anything happened
    assert m['qyb_notify_failed_attempts_total{channel="wecom"}'] == 0
    writer.queue([transition(site="gh03")], clock.ms)
    drive(notes.dispatcher, clock, 12)  # the first try and the jittered retries fail; gauges refresh every 10 s
    m = scrape(registry)
    # retries after 2.5-5 s and 5-10 s more (equal jitter, qingyubiao/retry.py): two or three tries in 12 s
    assert m['qyb_notify_failed_attempts_total{channel="wecom"}'] == len(receivers["wecom"].requests) in (2, 3)
    assert m['qyb_notify_failed_attempts_total{channel="webhook"}'] == 0
    assert m['qyb_notify_messages{status="retry"}'] == 1  # the WeCom message waits for its next try
    assert m['qyb_notify_messages{status="sent"}'] == 3  # webhook, DingTalk, the owner's feed
    drive(notes.dispatcher, clock, 60, until=lambda: not notes.outbox.targets(clock.ms))
    drive(notes.dispatcher, clock, 10)
    m = scrape(registry)
    assert m['qyb_notify_failed_attempts_total{channel="wecom"}'] == 3
    assert m['qyb_notify_messages{status="retry"}'] == 0
    assert m['qyb_notify_messages{status="sent"}'] == sum(notes.outbox.status_counts().values()) == 4
    notes.close()


@pytest.mark.parametrize("how", ["refused", "gave up"])
def test_a_message_given_up_is_counted_and_logged(
    receivers: dict[str, Receiver], tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    if how == "refused":  # a configuration error: WeCom refuses for good at once
        receivers["wecom"].reply = b'{"errcode":93000,"errmsg":"invalid webhook url"}'
    else:  # down for longer than give_up_h
        receivers["wecom"].fail(1000, 503)
    clock = Clock(at("2026-07-15 14:00"))
    notes, writer, registry = metered(notify_config(receivers, group_wait_s=0, give_up_h=0.05), tmp_path, clock)
    writer.queue([transition(site="gh03")], clock.ms)
    with caplog.at_level(logging.WARNING, logger="alerts.notify.dispatcher"):
        drive(notes.dispatcher, clock, 8 * 60, step_s=5)  # retries at 5, 15, 35, 75, 155, 315 s: past 3 min
    assert scrape(registry)['qyb_notify_messages{status="failed"}'] == 1
    [record] = [r for r in caplog.records if "failed for good" in r.getMessage()]
    assert record.levelno >= logging.WARNING
    assert f"wecom to lijiahe failed for good ({how}" in record.getMessage()
    assert "1 messages" in record.getMessage() and "|firing|lijiahe|wecom" in record.getMessage()
    notes.close()
