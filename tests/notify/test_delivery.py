"""Nothing lost, nothing twice, in order per site: a receiver that fails for a while, then recovers."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from alerts.notify.channels.wecom import WeComChannel
from alerts.notify.notice import Notice
from alerts.notify.outbox import Send
from tests.notify.conftest import Clock, Receiver, at, drive, notify_config, transition
from tests.notify.test_channels import pipeline


def storyline(clock: Clock) -> list[tuple[int, list]]:
    """(when, transitions): four greenhouses heat up, one also gets humid, they clear at different times."""
    t0 = clock.ms
    out = []
    for i, site in enumerate(["gh01", "gh02", "gh03", "gh04"]):
        start = t0 - 15 * 60_000
        fire = transition(site=site, severity="critical", ts=t0 + i * 20_000, start=start)
        out.append((fire.ts_ms, [fire]))
        humid = transition(site=site, kind="humidity_high", metric="air_rh_pct", value=96.0, threshold=90.0,
                           ts=t0 + 90_000 + i * 5_000, start=t0)  # fmt: skip
        out.append((humid.ts_ms, [humid]))
        end = t0 + (5 + i) * 60_000
        out.append(
            (end, [transition(site=site, severity="critical", state="resolved", value=30.0, ts=end, start=start)])
        )
    return sorted(out, key=lambda x: x[0])


def run_story(notes, writer, clock: Clock, minutes: float) -> None:
    story = storyline(clock)
    end = clock.ms + int(minutes * 60_000)
    while clock.ms <= end:
        while story and story[0][0] <= clock.ms:
            writer.queue(story.pop(0)[1], clock.ms)
        notes.dispatcher.run_once(clock.ms)
        clock.advance(1)


def test_failing_receivers_get_every_message_exactly_once_in_order(
    receivers: dict[str, Receiver], tmp_path: Path
) -> None:
    receivers["webhook"].fail(6, 500)
    receivers["wecom"].fail(3, 429)
    receivers["sms"].fail(4, 503)
    clock = Clock(at("2026-07-15 14:00"))
    notes, writer = pipeline(notify_config(receivers), tmp_path, clock)
    run_story(notes, writer, clock, 30)
    db = notes.outbox._db

    # every notice reached its final state "sent"; nothing failed, nothing is still queued
    assert notes.outbox.status_counts() == {"sent": db.execute("SELECT count(*) FROM notify_message").fetchone()[0]}
    # every try was recorded, including the refused ones
    for name in ("webhook", "wecom", "sms"):
        tries = db.execute("SELECT count(*), sum(ok) FROM notify_attempt WHERE channel=?", (name,)).fetchone()
        assert tries == (len(receivers[name].requests), len(receivers[name].accepted()))
    assert len(receivers["webhook"].requests) - len(receivers["webhook"].accepted()) == 6

    # village app: each event key accepted exactly once; retries carried the same idempotency key and events
    accepted = [e for r in receivers["webhook"].accepted() for e in r.json()["events"]]
    keys = [e["key"] for e in accepted]
    queued = [r[0] for r in db.execute("SELECT key FROM notify_message WHERE channel='webhook' ORDER BY id")]
    assert sorted(keys) == sorted(queued) and len(keys) == len(set(keys)) == 12
    by_key: dict[str, set[str]] = {}
    for r in receivers["webhook"].requests:
        by_key.setdefault(r.headers["Idempotency-Key"], set()).add(json.dumps([e["key"] for e in r.json()["events"]]))
    assert all(len(v) == 1 for v in by_key.values())
    # in order per site: fire, humid, resolved, as the alerts happened
    for site in ("gh01", "gh02", "gh03", "gh04"):
        states = [(e["kind"], e["state"]) for e in accepted if e["site"] == site]
        assert states == [("air_temp_high", "firing"), ("humidity_high", "firing"), ("air_temp_high", "resolved")]

    # WeCom: each accepted request is exactly the message of one sent send, in the order they were sent
    sends = db.execute(
        "SELECT s.id, a.ts_ms FROM notify_send s JOIN notify_attempt a ON a.send_id=s.id AND a.ok=1 "
        "WHERE s.channel='wecom' ORDER BY a.id"
    ).fetchall()
    channel = WeComChannel("", None, 20)  # type: ignore[arg-type]  # renders only: no client
    bodies = []
    for send_id, ts in sends:
        notices = [
            Notice.from_json(r[0])
            for r in db.execute("SELECT notice FROM notify_message WHERE send_id=? ORDER BY id", (send_id,))
        ]
        bodies.append(channel.body(Send(send_id, "wecom", "lijiahe", "", 0, "sent", 1, 0, notices), ts))
    assert [r.json() for r in receivers["wecom"].accepted()] == bodies
    told = [n for (sid, _) in sends for n in db.execute("SELECT key FROM notify_message WHERE send_id=?", (sid,))]
    assert (
        len(told)
        == len(set(told))
        == db.execute("SELECT count(*) FROM notify_message WHERE channel='wecom'").fetchone()[0]
    )
    # SMS (critical only): one text per person per change, owner and secretary, exactly once each
    sms = [(r.json()["phone"], r.json()["params"]["text"]) for r in receivers["sms"].accepted()]
    assert len(sms) == len(set(sms))
    assert db.execute("SELECT count(*) FROM notify_message WHERE channel='sms' AND status='sent'").fetchone()[0] == 16
    notes.close()


def test_backoff_doubles_and_a_hopeless_message_is_marked_failed(
    receivers: dict[str, Receiver], tmp_path: Path
) -> None:
    receivers["wecom"].fail(1000, 500)
    clock = Clock(at("2026-07-15 14:00"))
    config = notify_config(receivers, retry_initial_s=5, retry_max_s=60, give_up_h=0.25)
    notes, writer = pipeline(config, tmp_path, clock)
    writer.queue([transition()], clock.ms)
    drive(notes.dispatcher, clock, 20 * 60)
    tries = [
        r[0] for r in notes.outbox._db.execute("SELECT ts_ms FROM notify_attempt WHERE channel='wecom' ORDER BY id")
    ]
    gaps = [(b - a) // 1000 for a, b in itertools.pairwise(tries)]
    full = [min(60, 5 * 2**k) for k in range(len(gaps))]  # 5, 10, 20, 40, 60, 60 …
    # equal jitter (qingyubiao/retry.py): between half and all of each backoff, on the drive's 1 s steps
    assert all(f // 2 - 1 <= g <= f + 1 for g, f in zip(gaps, full, strict=True)), gaps
    assert len(set(gaps[5:])) > 1  # not in step
    assert tries[-1] - tries[0] >= 15 * 60_000 - 60_000
    status = notes.outbox._db.execute("SELECT status FROM notify_message WHERE channel='wecom'").fetchall()
    assert status == [("failed",)]
    assert len(receivers["wecom"].requests) == len(tries)
    notes.close()


def test_a_refused_request_is_final_and_does_not_block_the_next(receivers: dict[str, Receiver], tmp_path: Path) -> None:
    receivers["webhook"].fail(1, 400)  # e.g. the app rejects the first event: a configuration problem, not a retry
    clock = Clock(at("2026-07-15 14:00"))
    notes, writer = pipeline(notify_config(receivers, group_wait_s=0), tmp_path, clock)
    writer.queue([transition(site="gh03")], clock.ms)
    writer.queue([transition(site="gh05", ts=clock.ms + 1)], clock.ms)
    drive(notes.dispatcher, clock, 10)
    assert [r.status for r in receivers["webhook"].requests] == [400, 200]
    rows = notes.outbox._db.execute("SELECT site, status FROM notify_message WHERE channel='webhook' ORDER BY id")
    assert rows.fetchall() == [("gh03", "failed"), ("gh05", "sent")]
    notes.close()
