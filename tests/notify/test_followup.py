"""Quiet hours, repeat until acknowledged, escalation to the secretary, one-tap ack: on an injected clock."""

from __future__ import annotations

from pathlib import Path

from alerts.notify.build import Notifications
from alerts.notify.writer import NotifyingWriter
from ingest.store.sqlite_alerts import SqliteAlertStore
from qingyubiao.alerting import Episode, Transition
from qingyubiao.notifying import AckCheck, verify_ack_token
from tests.notify.conftest import ACK_SECRET, Clock, Receiver, at, drive, notify_config, transition
from tests.notify.test_channels import pipeline


def record(writer: NotifyingWriter, t: Transition) -> None:
    """What the alert manager does: record the transition and its episode through the writer."""
    start = int(t.episode.rsplit("@", 1)[1])
    ended = t.ts_ms if t.state == "resolved" else None
    ep = Episode(t.episode, t.rule, t.kind, t.severity, t.audience, t.village, t.site, t.device, t.metric, t.state,
                 start, start, ended, False, t.value, t.text_zh, t.text_en)  # fmt: skip
    writer.record([t], [ep], None, t.ts_ms)


def wecom_texts(r: Receiver) -> list[str]:
    return [
        b["text"]["content"] if b["msgtype"] == "text" else b["markdown"]["content"]
        for b in (x.json() for x in r.requests)
    ]


def test_night_warnings_wait_for_one_morning_digest(receivers: dict[str, Receiver], tmp_path: Path) -> None:
    clock = Clock(at("2026-07-15 22:50"))
    notes, writer = pipeline(notify_config(receivers), tmp_path, clock)
    night = [("gh03", "2026-07-15 23:10"), ("gh05", "2026-07-16 01:20"), ("gh07", "2026-07-16 03:40")]
    for site, when in night:
        drive(notes.dispatcher, clock, (at(when) - clock.ms) / 1000, step_s=30)
        record(writer, transition(site=site, kind="humidity_high", metric="air_rh_pct", value=95.0, threshold=90.0,
                                  ts=clock.ms, start=clock.ms - 7_200_000))  # fmt: skip
    drive(notes.dispatcher, clock, (at("2026-07-16 06:29") - clock.ms) / 1000, step_s=30)
    assert receivers["wecom"].requests == [] and receivers["webhook"].requests == []  # nobody woken up
    assert len(notes.outbox.events_since(0, person="li-guohua")) == 1  # but the phone page shows it at once
    drive(notes.dispatcher, clock, 120, step_s=5)
    [morning] = wecom_texts(receivers["wecom"])
    assert morning.startswith("【李家河晴雨表】汇总：3 个棚/园 3 条提醒")
    assert all(f"{name} 空气湿度" in morning for name in ("3号棚", "5号棚", "7号棚"))
    [hook] = receivers["webhook"].requests
    assert [e["site"] for e in hook.json()["events"]] == ["gh03", "gh05", "gh07"]
    assert int(hook.headers["X-Qyb-Timestamp"]) >= at("2026-07-16 06:30")
    notes.close()


def test_critical_rings_at_night_and_repeats_until_acknowledged_by_the_link(
    receivers: dict[str, Receiver], tmp_path: Path
) -> None:
    clock = Clock(at("2026-07-16 02:00"))
    notes, writer = pipeline(notify_config(receivers, repeat_min=30, escalate_min=45), tmp_path, clock)
    t = transition(site="gh03", kind="air_temp_low", severity="critical", value=4.0, threshold=6.0, ts=clock.ms)
    record(writer, t)
    drive(notes.dispatcher, clock, 60)
    assert len(receivers["wecom"].requests) == 1  # critical overrides quiet hours
    drive(notes.dispatcher, clock, 29 * 60, step_s=5)
    assert len(receivers["wecom"].requests) == 1
    drive(notes.dispatcher, clock, 2 * 60, step_s=5)
    texts = wecom_texts(receivers["wecom"])
    assert len(texts) == 2 and "仍未处理：【严重】3号棚 气温 4.0℃，已低于 6℃" in texts[1]
    sms = [r.json()["params"]["text"] for r in receivers["sms"].requests if r.json()["phone"] == "13909120002"]
    assert len(sms) == 2 and sms[1].startswith("【李家河晴雨表】仍未处理：")
    # the farmer taps the link in the SMS: the API verifies it and acknowledges in the alert store
    link = sms[1].rsplit("收到请点：", 1)[1]
    verdict, ref = verify_ack_token(ACK_SECRET, link.rsplit("/", 1)[1], clock.ms)
    assert verdict == AckCheck.OK and ref is not None
    found = notes.outbox.resolve(ref)
    assert found is not None and (found.episode, found.person) == (t.episode, "li-guohua")
    api_side = SqliteAlertStore(tmp_path / "qyb.sqlite")
    assert api_side.acknowledge(found.episode, found.person, clock.ms)
    api_side.close()
    before = len(receivers["wecom"].requests)
    drive(notes.dispatcher, clock, 90 * 60, step_s=10)
    assert len(receivers["wecom"].requests) == before  # no more repeats, no escalation
    assert not any("升级" in r.json()["params"]["text"] for r in receivers["sms"].requests)
    notes.close()


def test_unacknowledged_warning_escalates_to_the_secretary_once(receivers: dict[str, Receiver], tmp_path: Path) -> None:
    clock = Clock(at("2026-07-15 10:00"))
    notes, writer = pipeline(notify_config(receivers, escalate_min=30, repeat_min=20), tmp_path, clock)
    record(writer, transition(site="gh03", kind="soil_dry", metric="soil_vwc_pct", value=12.0, threshold=15.0,
                              ts=clock.ms, start=clock.ms - 600_000))  # fmt: skip
    drive(notes.dispatcher, clock, 29 * 60, step_s=5)
    first = wecom_texts(receivers["wecom"])
    assert len(first) == 1 and receivers["sms"].requests == []  # a warning: no SMS, no repeat
    drive(notes.dispatcher, clock, 3 * 60, step_s=5)
    [sms] = receivers["sms"].requests
    assert sms.json()["phone"] == "13909120030"
    assert sms.json()["params"]["text"].startswith(
        "【李家河晴雨表】升级（40 分钟无人确认）：3号棚 土壤含水量 12.0%，已低于 15% 40 分钟。"
    )
    escalated = [r.json() for r in receivers["wecom"].requests[1:]]
    assert len(escalated) == 1 and escalated[0]["text"]["mentioned_mobile_list"] == ["13909120030"]
    assert [e.person for e in notes.outbox.events_since(0) if e.state == "escalation"] == ["secretary"]
    drive(notes.dispatcher, clock, 120 * 60, step_s=15)
    assert len(receivers["sms"].requests) == 1 and len(receivers["wecom"].requests) == 2  # once; warnings do not repeat
    notes.close()


def test_resolved_message_and_no_repeat_after_it_clears(receivers: dict[str, Receiver], tmp_path: Path) -> None:
    clock = Clock(at("2026-07-15 13:00"))
    notes: Notifications
    notes, writer = pipeline(notify_config(receivers, repeat_min=10), tmp_path, clock)
    fire = transition(site="gh05", severity="critical", ts=clock.ms)
    record(writer, fire)
    drive(notes.dispatcher, clock, 5 * 60)
    record(writer, transition(site="gh05", severity="critical", state="resolved", value=29.0, ts=clock.ms,
                              start=int(fire.episode.rsplit("@", 1)[1])))  # fmt: skip
    drive(notes.dispatcher, clock, 60 * 60, step_s=10)
    texts = wecom_texts(receivers["wecom"])
    assert len(texts) == 2 and texts[1].startswith("【李家河晴雨表】5号棚 高温已恢复：气温 29.0℃（持续 20 分钟）。")
    assert "收到请点" not in texts[1]
    notes.close()
