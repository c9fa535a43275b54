"""After a crash mid-request: what each channel resends, and how a possible repeat is marked.

The real SIGKILL is in test_restart.py; here the "crash" is a dispatcher that
marked a request in flight and never recorded its answer (what SIGKILL leaves
in the outbox), so every channel and language can be checked in one process.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from alerts.notify.channels.base import Outcome
from alerts.notify.channels.mqtt import BroadcastChannel
from alerts.notify.outbox import Outbox, Send
from tests.notify.conftest import Clock, Receiver, at, drive, notify_config, transition
from tests.notify.test_channels import expected, pipeline

HTTP = ("webhook", "wecom", "dingtalk", "sms")


def test_a_retry_cut_off_by_a_crash_is_resent_marked_in_each_language(
    receivers: dict[str, Receiver], tmp_path: Path
) -> None:
    def english(raw: dict[str, Any]) -> None:
        raw["deployment"]["notify"]["wecom"]["lang"] = "en"
        raw["deployment"]["notify"]["person"] = {"secretary": {"lang": "en"}}

    config = notify_config(receivers, edit=english, group_wait_s=0)
    for name in HTTP:  # the first try of each request fails: they wait for a retry
        receivers[name].fail(2 if name == "sms" else 1, 500)
    clock = Clock(at("2026-07-15 14:00"))
    notes, writer = pipeline(config, tmp_path, clock)
    writer.queue([transition(site="gh03", severity="critical")], clock.ms)  # critical: SMS to owner and secretary
    drive(notes.dispatcher, clock, 2)
    assert notes.outbox.status_counts() == {"retry": 5, "sent": 2}  # webhook, wecom, dingtalk, 2 SMS; 2 feed rows
    clock.advance(30)
    for channel, target in notes.outbox.targets(clock.ms):  # the retry goes out ... and the process dies
        send = notes.outbox.open_send(channel, target)
        if send is not None and channel in HTTP:
            notes.outbox.begin_attempt(send)
    notes.close()
    sent_before = {name: len(receivers[name].requests) for name in HTTP}

    again, _ = pipeline(config, tmp_path, clock)
    assert sorted(again.dispatcher.recovered) == [
        ("dingtalk", "lijiahe"), ("sms", "li-guohua"), ("sms", "secretary"), ("webhook", "lijiahe"),
        ("wecom", "lijiahe")]  # fmt: skip
    # SMS: 2 a minute per phone, and the cut-off try counts (it may have reached the gateway): a minute later
    drive(again.dispatcher, clock, 70, until=lambda: not again.outbox.targets(clock.ms))
    new = {name: receivers[name].requests[sent_before[name] :] for name in HTTP}
    assert all(r.status == 200 for rs in new.values() for r in rs)

    [wecom] = new["wecom"]
    assert wecom.json()["text"]["content"].startswith("(possible repeat) [李家河晴雨表] [critical] 3号棚 (gh03)")
    [ding] = new["dingtalk"]
    assert ding.json()["markdown"]["title"] == "（可能重复）李家河晴雨表 3号棚"
    assert ding.json()["markdown"]["text"].startswith("（可能重复）【李家河晴雨表】【严重】3号棚 气温 38.2℃")
    sms = {r.json()["phone"]: r.json()["params"]["text"] for r in new["sms"]}
    assert sms["13909120002"].startswith("（可能重复）【李家河晴雨表】【严重】3号棚")  # the farmer: zh-CN
    assert sms["13909120030"].startswith("(possible repeat) [李家河晴雨表] [critical]")  # the secretary: English
    # the village app dedups: the same request again (same key, same events), no mark
    [hook] = new["webhook"]
    first = receivers["webhook"].requests[0]
    assert hook.headers["Idempotency-Key"] == first.headers["Idempotency-Key"]
    assert [e["key"] for e in hook.json()["events"]] == [e["key"] for e in first.json()["events"]]
    assert "可能重复" not in hook.body.decode()
    [n] = expected(again, "webhook", "lijiahe", clock.ms)
    assert hook.json()["events"][0]["key"] == n.key

    assert set(again.outbox.status_counts()) == {"sent"}
    details = [r[0] for r in again.outbox._db.execute(
        "SELECT detail FROM notify_attempt WHERE channel='sms' AND target='secretary' ORDER BY id")]  # fmt: skip
    assert [d.split(":")[0] for d in details] == ["HTTP 500", "no answer", "recovery resend, marked possible repeat"]
    [(attempts,)] = again.outbox._db.execute(
        "SELECT attempts FROM notify_send WHERE channel='sms' AND target='secretary'"
    )
    assert attempts == len(details)  # the cut-off try counts for the backoff and the give-up log too
    again.close()


def test_the_cut_off_try_counts_as_an_attempt(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "qyb.sqlite")
    # one try failed, the retry went out, and the process died before its answer was recorded
    outbox._db.execute("INSERT INTO notify_send(channel, target, key, created_ms, status, attempts, next_ms) "
                       "VALUES ('wecom', 'lijiahe', 'k', 1, 'sending', 1, 1)")  # fmt: skip
    assert outbox.recover(5) == [("wecom", "lijiahe")]
    send = outbox.open_send("wecom", "lijiahe")
    assert send is not None and (send.status, send.attempts, send.next_ms, send.recovered) == ("retry", 2, 5, True)
    outbox.close()


def test_status_counts_tell_a_request_waiting_for_its_retry_from_one_in_flight(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "qyb.sqlite")
    db = outbox._db
    for send_id, status in ((1, "sending"), (2, "retry"), (3, "sent")):
        db.execute("INSERT INTO notify_send(id, channel, target, key, created_ms, status, next_ms) "
                   "VALUES (?, 'wecom', 'lijiahe', ?, 1, ?, 1)", (send_id, f"k{send_id}", status))  # fmt: skip
    rows: list[tuple[str, int | None]] = [
        ("sending", 1), ("sending", 1), ("sending", 2), ("sent", 3), ("queued", None), ("failed", None)
    ]  # fmt: skip
    for i, (status, in_send) in enumerate(rows):
        db.execute("INSERT INTO notify_message(key, channel, target, village, site, episode, state, severity, "
                   "created_ms, due_ms, held, status, send_id, notice) "
                   "VALUES (?, 'wecom', 'lijiahe', 'lijiahe', 'gh01', 'e', 'firing', 'critical', 1, 1, 0, ?, ?, '{}')",
                   (f"m{i}", status, in_send))  # fmt: skip
    assert outbox.status_counts() == {"sending": 2, "retry": 1, "sent": 1, "queued": 1, "failed": 1}
    outbox.close()


class Said:
    """Stands in for the MQTT link: keeps what the loudspeaker would read out."""

    def __init__(self) -> None:
        self.out: list[str] = []

    def publish(self, topic: str, payload: bytes, timeout_s: float = 10.0) -> Outcome:
        self.out.append(payload.decode())
        return Outcome(True, False, f"published to {topic}")


def test_the_loudspeaker_says_a_resent_line_is_a_possible_repeat(tmp_path: Path) -> None:
    clock = Clock(at("2026-07-15 14:00"))
    notes, writer = pipeline(notify_config(group_wait_s=0), tmp_path, clock)
    writer.queue([transition(site="gh03", severity="critical")], clock.ms)
    notices = expected(notes, "feed", "li-guohua", clock.ms)
    link = Said()
    channel = BroadcastChannel(link)  # type: ignore[arg-type]
    for recovered in (False, True):
        channel.deliver(Send(1, "broadcast", "lijiahe", "k", clock.ms, "sending", 0, clock.ms, notices, recovered),
                        clock.ms)  # fmt: skip
    assert link.out[0].startswith("请注意，3号棚高温")
    assert link.out[1] == "（可能重复）" + link.out[0]
    notes.close()


def test_an_outbox_from_before_recovery_gets_the_column(tmp_path: Path) -> None:
    db = tmp_path / "qyb.sqlite"
    old = sqlite3.connect(db)
    old.execute(
        "CREATE TABLE notify_send(id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, target TEXT NOT NULL, "
        "key TEXT NOT NULL, created_ms INTEGER NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, "
        "next_ms INTEGER NOT NULL, last_error TEXT, done_ms INTEGER)"
    )
    old.execute("INSERT INTO notify_send(channel, target, key, created_ms, status, next_ms) "
                "VALUES ('wecom', 'lijiahe', 'k', 1, 'uncertain', 1)")  # fmt: skip
    old.commit()
    old.close()
    outbox = Outbox(db)
    assert outbox.recover(2) == []  # an old `uncertain` request stays as it was: too late to resend
    assert outbox._db.execute("SELECT status, recovered FROM notify_send").fetchall() == [("uncertain", 0)]
    outbox.close()
