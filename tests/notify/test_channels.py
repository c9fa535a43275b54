"""Every channel delivers to a real receiver that checks the exact request.

HTTP channels go to local receivers (tests/notify/conftest.py) that record
URL, query, headers and body; MQTT goes to a real mosquitto broker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import paho.mqtt.client as mqtt
import pytest

from alerts.notify import text
from alerts.notify.build import Notifications, build_notifications
from alerts.notify.notice import Notice
from alerts.notify.writer import NotifyingWriter
from ingest.store.sqlite_alerts import SqliteAlertStore
from qingyubiao.config import Config
from tests.conftest import Mosquitto, wait_for
from tests.notify.conftest import DING_SECRET, SECRET, SMS_KEY, Clock, Receiver, at, drive, notify_config, transition


def pipeline(config: Config, tmp_path: Path, clock: Clock) -> tuple[Notifications, NotifyingWriter]:
    db = tmp_path / "qyb.sqlite"
    store = SqliteAlertStore(db)
    n = build_notifications(config, db, alerts=store, now_ms=clock.ms, mqtt_client_id=f"notify-{id(clock)}")
    return n, NotifyingWriter(store, n.outbox, n.router)


def expected(n: Notifications, channel: str, target: str, now_ms: int) -> list[Notice]:
    rows = n.outbox._db.execute(
        "SELECT notice FROM notify_message WHERE channel=? AND target=? ORDER BY id", (channel, target)
    ).fetchall()
    return [Notice.from_json(r[0]) for r in rows]


def test_http_channels_send_the_exact_requests(receivers: dict[str, Receiver], tmp_path: Path) -> None:
    clock = Clock(at("2026-07-15 14:00"))
    config = notify_config(receivers)
    notes, writer = pipeline(config, tmp_path, clock)
    t = transition(site="gh03", severity="critical")
    writer.queue([t], clock.ms)
    drive(notes.dispatcher, clock, 40)  # past the 30 s group wait
    send_ms = at("2026-07-15 14:00") + 30_000

    # village app: signed JSON event
    [hook] = receivers["webhook"].requests
    assert hook.path == "/hooks/qyb"
    assert hook.headers["X-Qyb-Timestamp"] == str(send_ms)
    mac = hmac.new(SECRET.encode(), f"{send_ms}.".encode() + hook.body, hashlib.sha256).hexdigest()
    assert hook.headers["X-Qyb-Signature"] == f"sha256={mac}"
    assert hook.headers["Idempotency-Key"] == f"{t.episode}|firing|lijiahe|webhook"
    doc = hook.json()
    assert (doc["version"], doc["village"], doc["sent_ms"], doc["id"]) == (
        1,
        "lijiahe",
        send_ms,
        f"{t.episode}|firing|lijiahe|webhook",
    )
    [event] = doc["events"]
    assert (event["site"], event["site_name"], event["value"], event["threshold"], event["unit"]) == (
        "gh03", "3号棚", 38.2, 35.0, "°C")  # fmt: skip
    assert event["state"] == "firing" and event["severity"] == "critical" and event["episode"] == t.episode
    assert {r["person"]: r["phone"] for r in event["recipients"]} == {
        "li-guohua": "13909120002", "secretary": "13909120030"}  # fmt: skip
    assert event["text_zh"].startswith(
        "【李家河晴雨表】【严重】3号棚 气温 38.2℃，已超过 35℃ 16 分钟。建议：立即开风口通风。"
    )  # 15.5 min when sent
    assert event["ack_url"].startswith("https://qyb.example.cn/a/")

    # WeCom: text with mentioned_mobile_list (markdown cannot @ anyone)
    [wecom] = receivers["wecom"].requests
    assert wecom.path == "/cgi-bin/webhook/send" and wecom.query == {"key": ["robot-key-1"]}
    body = wecom.json()
    assert body["msgtype"] == "text"
    assert body["text"]["mentioned_mobile_list"] == ["13909120002", "13909120030"]
    [n] = expected(notes, "wecom", "lijiahe", clock.ms)
    assert body["text"]["content"] == text.single(n, send_ms)[0]
    assert "立即开风口通风" in body["text"]["content"]

    # DingTalk: signed URL, markdown, atMobiles also written in the text
    [ding] = receivers["dingtalk"].requests
    assert ding.path == "/robot/send"
    assert ding.query["access_token"] == ["ding-token"] and ding.query["timestamp"] == [str(send_ms)]
    sig = base64.b64encode(
        hmac.new(DING_SECRET.encode(), f"{send_ms}\n{DING_SECRET}".encode(), hashlib.sha256).digest()
    )
    assert quote_plus(ding.query["sign"][0]) == quote_plus(sig.decode())
    body = ding.json()
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == "李家河晴雨表 3号棚"
    assert body["at"] == {"atMobiles": ["13909120002", "13909120030"], "isAtAll": False}
    assert body["markdown"]["text"].endswith("@13909120002 @13909120030")

    # SMS gateway: template body, bearer key, one per person (critical: owner and secretary)
    sms = receivers["sms"].requests
    assert [r.path for r in sms] == ["/sms/send", "/sms/send"]
    assert all(r.headers["Authorization"] == f"Bearer {SMS_KEY}" for r in sms)
    bodies = sorted((r.json() for r in sms), key=lambda b: b["phone"])
    assert [b["phone"] for b in bodies] == ["13909120002", "13909120030"]
    assert all(b["sign_name"] == "李家河村委" and b["template"] == "SMS_123456" for b in bodies)
    assert bodies[0]["params"]["text"].startswith("【李家河晴雨表】【严重】3号棚 气温 38.2℃")

    # the phone page's feed: one event per person, readable by cursor
    events = notes.outbox.events_since(0)
    assert sorted(e.person for e in events) == ["li-guohua", "secretary"]
    assert notes.outbox.events_since(events[-1].id) == []
    [mine] = notes.outbox.events_since(0, person="li-guohua")
    assert mine.state == "firing" and mine.ack_url is not None and mine.ack_url.startswith("https://qyb.example.cn/a/")
    assert mine.text_zh.startswith("【严重】3号棚 气温 38.2℃") and "https://" not in mine.text_zh + mine.text_en
    assert notes.outbox.status_counts() == {"sent": 7}  # webhook, wecom, dingtalk, 2 sms, 2 feed
    notes.close()


def test_mqtt_alert_events_and_loudspeaker_text(mosquitto: Mosquitto, tmp_path: Path) -> None:
    got: list[tuple[str, bytes]] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="listener")
    sub.on_message = lambda c, u, m: got.append((m.topic, bytes(m.payload)))
    sub.connect("127.0.0.1", mosquitto.port)
    sub.subscribe([("qyb/lijiahe/alerts", 1), ("qyb/lijiahe/broadcast", 1)])
    sub.loop_start()
    try:
        clock = Clock(at("2026-07-15 14:00"))
        notes, writer = pipeline(notify_config(mqtt_url=mosquitto.url), tmp_path, clock)
        fire = transition(site="gh03", severity="critical")
        writer.queue([fire], clock.ms)
        drive(notes.dispatcher, clock, 40, until=lambda: len(got) >= 2)
        wait_for(lambda: len(got) >= 2, 10, "alert event and broadcast")
        topics = {topic: payload for topic, payload in got}
        event = json.loads(topics["qyb/lijiahe/alerts"])
        assert event["key"] == f"{fire.episode}|firing|lijiahe|mqtt" and event["v"] == 1
        assert (event["site"], event["state"], event["severity"], event["value"], event["threshold"]) == (
            "gh03", "firing", "critical", 38.2, 35.0)  # fmt: skip
        assert event["text_zh"] == "【严重】3号棚 气温 38.2℃，已超过 35℃ 15 分钟。建议：立即开风口通风。"
        said = topics["qyb/lijiahe/broadcast"].decode()
        assert said == "请注意，3号棚高温，气温38度，立即开风口通风。重复一遍，3号棚高温，气温38度，立即开风口通风。"
        clock.advance(600)
        writer.queue([transition(site="gh03", severity="critical", state="resolved", value=30.0,
                                 start=fire.ts_ms - 15 * 60_000, ts=clock.ms)], clock.ms)  # fmt: skip
        drive(notes.dispatcher, clock, 5, until=lambda: len(got) >= 3)
        wait_for(lambda: len(got) >= 3, 10, "resolved event")
        assert json.loads(got[2][1])["state"] == "resolved" and got[2][0] == "qyb/lijiahe/alerts"
        assert len(got) == 3  # no loudspeaker for a resolved alert
        notes.close()
    finally:
        sub.loop_stop()
        sub.disconnect()


@pytest.mark.parametrize(("reply", "status"), [(b'{"errcode":310000,"errmsg":"sign not match"}', "failed"),
                                               (b'{"errcode":130101,"errmsg":"send too fast"}', "retry")])  # fmt: skip
def test_robot_refusals_are_read_from_the_body(receivers: dict[str, Receiver], tmp_path: Path, reply: bytes,
                                               status: str) -> None:  # fmt: skip
    receivers["dingtalk"].reply = reply
    clock = Clock(at("2026-07-15 14:00"))
    notes, writer = pipeline(notify_config(receivers), tmp_path, clock)
    writer.queue([transition()], clock.ms)
    drive(notes.dispatcher, clock, 35)
    row = notes.outbox._db.execute(
        "SELECT status, next_ms, last_error FROM notify_send WHERE channel='dingtalk'"
    ).fetchone()
    assert row[0] == status and "dingtalk errcode" in row[2]
    if status == "retry":  # DingTalk blocks for 10 minutes: wait it out instead of prolonging it
        assert row[1] - at("2026-07-15 14:00:30") == 600_000
    assert len(receivers["dingtalk"].requests) == 1
    notes.close()


def test_english_goes_to_groups_and_people_who_chose_it(receivers: dict[str, Receiver], tmp_path: Path) -> None:
    """zh-CN is the default; a robot group or a person's SMS can be set to English."""

    def english(raw: dict[str, Any]) -> None:
        notify = raw["deployment"]["notify"]
        notify["wecom"]["lang"] = "en"
        notify["person"] = {"secretary": {"lang": "en"}}

    clock = Clock(at("2026-07-15 14:00"))
    notes, writer = pipeline(notify_config(receivers, edit=english), tmp_path, clock)
    writer.queue([transition(site="gh03", severity="critical")], clock.ms)
    drive(notes.dispatcher, clock, 40)
    send_ms = at("2026-07-15 14:00") + 30_000
    [n] = expected(notes, "wecom", "lijiahe", clock.ms)
    zh, en = text.single(n, send_ms)
    assert receivers["wecom"].requests[0].json()["text"]["content"] == en
    assert en.startswith("[李家河晴雨表] [critical] 3号棚 (gh03) air temperature 38.2 °C, above 35 °C for 16 min.")
    assert "Ack: https://qyb.example.cn/a/" in en
    assert receivers["dingtalk"].requests[0].json()["markdown"]["text"].startswith(zh.split("\n")[0][:20])
    sms = {r.json()["phone"]: r.json()["params"]["text"] for r in receivers["sms"].requests}
    assert sms["13909120030"].startswith("[李家河晴雨表] [critical] 3号棚 (gh03) air temperature")  # the secretary
    assert sms["13909120002"].startswith("【李家河晴雨表】【严重】3号棚 气温 38.2℃")  # the farmer: zh-CN
    notes.close()
