"""Message text, who hears what, quiet hours and the ack links, with an injected clock."""

from __future__ import annotations

import pytest

from alerts.notify import text
from alerts.notify.outbox import Outbox, started_ms
from alerts.notify.routing import Router
from qingyubiao.notifying import GROUP, AckCheck, ack_ref, sign_ack_token, verify_ack_token
from tests.notify.conftest import ACK_SECRET, at, notify_config, transition

ALL = {"webhook", "wecom", "dingtalk", "sms", "mqtt", "broadcast", "feed"}


def route(t, now=None, config=None, **notify):
    router = Router(config or notify_config(**notify), ALL)
    return router.route(t, t.state, started_ms(t), now if now is not None else t.ts_ms)


def test_the_issue_example_word_for_word() -> None:
    [n] = [q.notice for q in route(transition()) if q.notice.channel == "feed"]
    zh, en = text.line(n, n.ts_ms)
    assert zh == "3号棚 气温 38.2℃，已超过 35℃ 15 分钟。建议：立即开风口通风。"
    assert en == "3号棚 (gh03) air temperature 38.2 °C, above 35 °C for 15 min. Do: open the vents now."
    zh, _ = text.single(n, n.ts_ms)
    assert zh.startswith(
        "【李家河晴雨表】3号棚 气温 38.2℃，已超过 35℃ 15 分钟。建议：立即开风口通风。 收到请点：https://"
    )


def test_cold_critical_and_resolved_text() -> None:
    t = transition(kind="air_temp_low", severity="critical", value=4.2, threshold=6.0, start=at("2026-07-15 13:50"))
    n = route(t)[0].notice
    assert (
        text.line(n, n.ts_ms)[0]
        == "【严重】3号棚 气温 4.2℃，已低于 6℃ 10 分钟。建议：放下保温被、关闭风口，必要时临时加温。"
    )
    r = transition(kind="air_temp_low", state="resolved", value=8.5, threshold=6.0, start=at("2026-07-15 13:20"))
    n = route(r)[0].notice
    assert text.line(n, n.ts_ms)[0] == "3号棚 低温已恢复：气温 8.5℃（持续 40 分钟）。"


def people_of(queued, channel):
    return sorted(p for q in queued if q.notice.channel == channel for p in q.notice.people)


def test_owner_gets_crop_warnings_secretary_only_critical_admins_device_faults() -> None:
    warn = route(transition(site="gh03"))
    assert people_of(warn, "feed") == ["li-guohua"]  # gh03 belongs to 李国华家
    assert people_of(warn, "wecom") == ["li-guohua"]
    assert [q.notice.mentions for q in warn if q.notice.channel == "wecom"] == [["13909120002"]]
    assert people_of(warn, "sms") == []  # warnings are not worth an SMS to a smartphone owner
    assert people_of(warn, "broadcast") == []
    crit = route(transition(site="gh03", severity="critical"))
    assert people_of(crit, "feed") == ["li-guohua", "secretary"]
    assert people_of(crit, "sms") == ["li-guohua", "secretary"]
    assert [q.notice.channel for q in crit].count("broadcast") == 1
    dev = route(transition(site="gh03", kind="device_offline", audience="maintainer", value=float("nan")))
    assert people_of(dev, "feed") == ["technician"]
    assert people_of(dev, "wecom") == ["technician"]


def test_people_without_smartphone_get_everything_by_sms_and_choices_are_kept() -> None:
    config = notify_config(person={"li-guohua": {"smartphone": False}, "secretary": {"channels": ["sms"]}})
    warn = route(transition(site="gh03"), config=config)
    assert people_of(warn, "sms") == ["li-guohua"]
    assert people_of(warn, "feed") == [] and people_of(warn, "wecom") == []
    crit = route(transition(site="gh03", severity="critical"), config=config)
    assert people_of(crit, "sms") == ["li-guohua", "secretary"]
    assert people_of(crit, "wecom") == []  # the secretary chose SMS only


@pytest.mark.parametrize(
    ("when", "severity", "held_until"),
    [
        ("2026-07-15 23:10", "warning", "2026-07-16 06:30"),
        ("2026-07-16 03:00", "warning", "2026-07-16 06:30"),
        ("2026-07-15 21:59", "warning", None),
        ("2026-07-16 06:30", "warning", None),
        ("2026-07-15 23:10", "critical", None),  # critical overrides quiet hours
        ("2026-07-15 23:10", "emergency", None),
    ],
)
def test_quiet_hours_hold_warnings_for_the_morning(when: str, severity: str, held_until: str | None) -> None:
    now = at(when)
    queued = route(transition(severity=severity, ts=now), now=now)
    for q in queued:
        if q.notice.channel in ("mqtt", "feed"):  # machines and the in-app list are never held
            assert (q.due_ms, q.held) == (now, False)
        else:
            assert q.due_ms == (at(held_until) if held_until else now)
            assert q.held is (held_until is not None)


def test_a_persons_own_quiet_hours() -> None:
    config = notify_config(person={"li-guohua": {"smartphone": False, "quiet_hours": "20:00-08:00"}})
    now = at("2026-07-15 07:30")
    [sms] = [q for q in route(transition(ts=now), now=now, config=config) if q.notice.channel == "sms"]
    assert sms.held and sms.due_ms == at("2026-07-15 08:00")


def test_ack_tokens_sign_verify_expire_and_resist_tampering() -> None:
    now = at("2026-07-15 14:00")
    ref = ack_ref("rule/lijiahe/gh03-air/air_temp_c@1", "li-guohua")
    token = sign_ack_token(ACK_SECRET, ref, now + 3_600_000)
    assert len(token) < 45
    assert verify_ack_token(ACK_SECRET, token, now) == (AckCheck.OK, ref)
    assert verify_ack_token(ACK_SECRET, token, now + 3_600_000) == (AckCheck.EXPIRED, None)
    assert verify_ack_token("other-secret", token, now) == (AckCheck.BAD_SIGNATURE, None)
    other = ack_ref("rule/lijiahe/gh04-air/air_temp_c@1", "li-guohua")
    forged = other + token[len(ref) :]
    assert verify_ack_token(ACK_SECRET, forged, now) == (AckCheck.BAD_SIGNATURE, None)
    later = sign_ack_token(ACK_SECRET, ref, now + 99 * 3_600_000).split(".")[1]
    stretched = ".".join([ref, later, token.split(".")[2]])  # extend the expiry, keep the signature
    assert verify_ack_token(ACK_SECRET, stretched, now) == (AckCheck.BAD_SIGNATURE, None)
    assert verify_ack_token(ACK_SECRET, "garbage", now) == (AckCheck.MALFORMED, None)


def test_ack_link_in_a_message_resolves_to_its_episode_and_person(tmp_path) -> None:
    config = notify_config()
    t = transition()
    queued = route(t, config=config)
    outbox = Outbox(tmp_path / "qyb.sqlite")
    outbox.enqueue(t, queued, t.ts_ms)
    [feed] = [q.notice for q in queued if q.notice.channel == "feed"]
    assert feed.ack_url is not None and feed.ack_url.startswith("https://qyb.example.cn/a/")
    token = feed.ack_url.rsplit("/", 1)[1]
    verdict, ref = verify_ack_token(ACK_SECRET, token, t.ts_ms + 23 * 3_600_000)
    assert verdict == AckCheck.OK and ref is not None
    found = outbox.resolve(ref)
    assert found is not None and (found.episode, found.person, found.village) == (t.episode, "li-guohua", "lijiahe")
    assert verify_ack_token(ACK_SECRET, token, t.ts_ms + 24 * 3_600_000)[0] == AckCheck.EXPIRED
    outbox.close()


def test_a_group_messages_link_names_everyone_it_names_not_the_first(tmp_path) -> None:
    config = notify_config()
    t = transition(severity="critical")  # the farmer and the secretary are paged
    queued = route(t, config=config)
    outbox = Outbox(tmp_path / "qyb.sqlite")
    outbox.enqueue(t, queued, t.ts_ms)
    groups = [q for q in queued if q.notice.channel in ("webhook", "wecom", "dingtalk")]
    assert {q.notice.channel for q in groups} == {"webhook", "wecom", "dingtalk"}
    for q in groups:
        assert q.notice.ack_url is not None and len(q.notice.people) > 1
        _, ref = verify_ack_token(ACK_SECRET, q.notice.ack_url.rsplit("/", 1)[1], t.ts_ms)
        assert ref is not None and ref != ack_ref(t.episode, q.notice.people[0])
        found = outbox.resolve(ref)
        assert found is not None and found.person == GROUP and found.named == tuple(q.notice.people)
    [feed] = [q for q in queued if q.notice.channel == "feed" and q.notice.target == "li-guohua"]
    assert feed.ack is not None and outbox.resolve(feed.ack[0]).named == ("li-guohua",)  # type: ignore[union-attr]
    outbox.close()


def test_device_fault_and_frost_loudspeaker_text() -> None:
    nan = float("nan")
    dev = transition(site="gh07", kind="device_offline", audience="maintainer", value=nan, threshold=nan)
    n = route(dev)[0].notice
    assert text.line(n, n.ts_ms) == (
        "7号棚 gh07-air 设备离线 15 分钟。建议：检查设备供电和网络。",
        "7号棚 (gh07) device gh07-air device offline for 15 min. Do: check the device's power and network.",
    )
    frost = transition(site="or02", kind="frost", severity="emergency", value=-2.6, threshold=-2.2)
    [say] = [q.notice for q in route(frost) if q.notice.channel == "broadcast"]
    assert text.loudspeaker(say) == (
        "请注意，南山苹果园霜冻，气温零下3度，启动防霜措施：熏烟、喷水或开风机。"
        "重复一遍，南山苹果园霜冻，气温零下3度，启动防霜措施：熏烟、喷水或开风机。"
    )


def test_the_api_reads_the_feed_and_ack_refs_read_only(tmp_path) -> None:
    import sqlite3

    db = tmp_path / "qyb.sqlite"
    sqlite3.connect(db).close()  # the database exists, the collector has not run yet
    reader = Outbox(db, readonly=True)
    assert reader.events_since(0) == [] and reader.resolve("nothing") is None and reader.newest_id() == 0
    writer = Outbox(db)
    t = transition()
    queued = route(t)
    writer.enqueue(t, queued, t.ts_ms)
    feed = [q.notice for q in queued if q.notice.channel == "feed"]
    writer.add_feed(feed, [("中文", "English")] * len(feed))
    [event] = reader.events_since(0, person="li-guohua")
    assert reader.newest_id() == max(e.id for e in reader.events_since(0)) >= event.id  # where a new stream starts
    assert (event.episode, event.state, event.text_zh, event.ack_url) == (t.episode, "firing", "中文", feed[0].ack_url)
    assert reader.resolve(next(q.ack for q in queued if q.ack)[0]) is not None
    reader.close()
    writer.close()


def test_secrets_from_the_environment_win_over_the_file() -> None:
    import copy
    import tomllib

    from qingyubiao.config import bundled_config_path, parse_config

    raw = tomllib.loads(bundled_config_path().read_text(encoding="utf-8"))
    raw["deployment"]["notify"] = {"ack_secret": "from-file", "public_url": "https://qyb.example.cn"}
    env = {"QYB_ACK_SECRET": "from-env", "QYB_DINGTALK_SECRET": "SECenv", "QYB_WECOM_URL": "https://wecom/x?key=k"}
    s = parse_config(copy.deepcopy(raw), "test", env).deployment.notify
    assert (s.ack_secret, s.dingtalk.secret, s.wecom.url) == ("from-env", "SECenv", "https://wecom/x?key=k")
    assert s.public_url == "https://qyb.example.cn"  # untouched without its variable
    assert parse_config(raw, "test", {}).deployment.notify.ack_secret == "from-file"


def test_the_feed_filters_by_village_before_the_limit(tmp_path) -> None:
    outbox = Outbox(tmp_path / "qyb.sqlite")
    for i, village in enumerate(["lijiahe"] * 3 + ["zhangzhuang"]):  # "secretary" is an id in both villages
        outbox._db.execute(
            "INSERT INTO notify_feed(key, person, village, site, episode, state, severity, ts_ms, text_zh, text_en) "
            "VALUES (?, 'secretary', ?, 'gh01', 'e', 'firing', 'critical', 1, '中文', 'English')",
            (f"k{i}", village),
        )
    [theirs] = outbox.events_since(0, "secretary", limit=2, village="zhangzhuang")
    assert (theirs.village, theirs.key) == ("zhangzhuang", "k3")
    assert [e.key for e in outbox.events_since(0, "secretary", limit=5)] == ["k0", "k1", "k2", "k3"]  # None: all
    outbox.close()
