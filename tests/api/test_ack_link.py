"""One-tap acknowledge links: real alerts paged through the real outbox, links signed by the real router,
answered by the API without a login. GET shows, the button (POST) acknowledges."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from urllib.parse import quote

import httpx2
import pytest

from alerts.notify.followup import FollowUp
from alerts.notify.routing import Router
from alerts.notify.writer import NotifyingWriter
from qingyubiao.notifying import ack_ref, sign_ack_token
from tests.api.conftest import ACK_SECRET, FARMER, HOUR, OTHER_FARMER, SECRETARY, ApiWorld, Paging

V = "/api/v1/villages/lijiahe"


def set_clock(world: ApiWorld, ms: int) -> None:
    world.client.app.state.api.now_ms = lambda: ms  # type: ignore[attr-defined]


def ack_of(world: ApiWorld, eid: str) -> tuple[str | None, int | None]:
    found = [e for e in world.alerts.active_episodes("lijiahe") if e.id == eid]
    if not found:
        found = [e for e in world.alerts.episodes(0) if e.id == eid]
    [e] = found
    return e.ack_by, e.ack_ms


def outcome(r: httpx2.Response) -> str:
    m = re.search(r'data-outcome="(\w+)"', r.text)
    assert m is not None, r.text
    return m.group(1)


def no_store(r: httpx2.Response) -> bool:
    return r.headers["cache-control"] == "no-store" and r.headers["content-type"].startswith("text/html")


def test_the_link_shows_the_alert_and_the_button_acknowledges_it_in_the_farmers_name(
    world: ApiWorld, paging: Paging
) -> None:
    eid = paging.fire("gh01")
    token = paging.token(eid, FARMER)
    set_clock(world, world.now_ms + 60_000)

    shown = world.client.get(f"/a/{token}")  # no bearer token: the signed link is the credential
    assert shown.status_code == 200 and no_store(shown) and outcome(shown) == "confirm"
    assert '<html lang="zh-CN">' in shown.text and "晴雨表 · 李家河村" in shown.text
    assert "请确认收到这条告警" in shown.text and "1号棚 高温：气温 38.2 °C" in shown.text
    assert "确认人：李建军" in shown.text and "Please confirm you have seen this alert" in shown.text  # English below
    assert f'<form method="post" action="./{token}">' in shown.text
    assert ack_of(world, eid) == (None, None)  # opening the link (or a chat app's preview bot) acknowledges nothing

    done = world.client.post(f"/a/{token}")
    assert done.status_code == 200 and no_store(done) and outcome(done) == "acked"
    assert "已确认" in done.text and "1号棚" in done.text and "由 李建军 确认" in done.text
    assert "Acknowledged" in done.text and "by 李建军" in done.text
    assert ack_of(world, eid) == (FARMER, world.now_ms + 60_000)

    again = world.client.get(f"/a/{token}")  # opened again later, or the button tapped twice
    assert again.status_code == 200 and outcome(again) == "already" and "由 李建军 于" in again.text
    assert outcome(world.client.post(f"/a/{token}")) == "already"
    assert ack_of(world, eid) == (FARMER, world.now_ms + 60_000)  # the first acknowledgement stays


def test_english_first_with_lang_en(world: ApiWorld, paging: Paging) -> None:
    token = paging.token(paging.fire("gh01"), FARMER)
    r = world.client.get(f"/a/{token}?lang=en")
    assert r.status_code == 200 and '<html lang="en">' in r.text
    assert r.text.index("Please confirm") < r.text.index("请确认收到这条告警")
    assert f'action="./{token}?lang=en"' in r.text and "1号棚 air temp high" in r.text
    done = world.client.post(f"/a/{token}?lang=en")
    assert done.status_code == 200 and done.text.index("Acknowledged") < done.text.index("已确认")


def test_the_acknowledgement_stops_the_repeats(world: ApiWorld, paging: Paging) -> None:
    eid = paging.fire("gh01")
    unacked = paging.fire("gh02")
    acked = lambda: {e.id for e in world.alerts.active_episodes() if e.ack_by}  # noqa: E731  (as qyb collect reads it)
    followup = FollowUp(world.outbox, paging.writer.router, 30 * 60_000, 10 * HOUR, acked)
    assert world.client.post(f"/a/{paging.token(eid, FARMER)}").status_code == 200
    followup.run(world.now_ms + 31 * 60_000)  # past the 30-minute repeat of a critical alert

    def states(episode: str) -> set[str]:
        rows = world.outbox._db.execute("SELECT state FROM notify_message WHERE episode=?", (episode,)).fetchall()
        return {r[0] for r in rows}

    assert states(eid) == {"firing"} and states(unacked) == {"firing", "repeat-1"}


def test_an_alert_someone_else_acknowledged_says_who_and_stays_theirs(world: ApiWorld, paging: Paging) -> None:
    eid = paging.fire("gh01")  # critical: the owner and the secretary are paged
    r = world.client.post(f"{V}/alerts/{quote(eid, safe='')}/ack", headers=world.auth(FARMER))  # on the phone page
    assert r.status_code == 200
    token = paging.token(eid, SECRETARY)
    for answer in (world.client.get(f"/a/{token}"), world.client.post(f"/a/{token}")):
        assert answer.status_code == 200 and outcome(answer) == "already"
        assert "这条告警已经确认过了" in answer.text and "由 李建军 于" in answer.text
    assert ack_of(world, eid)[0] == FARMER


def test_a_cleared_alert_says_so_and_is_not_acknowledged(world: ApiWorld, paging: Paging) -> None:
    eid = paging.fire("gh01")
    token = paging.token(eid, FARMER)
    paging.resolve(eid)
    for answer in (world.client.get(f"/a/{token}"), world.client.post(f"/a/{token}")):
        assert answer.status_code == 200 and outcome(answer) == "cleared"
        assert "告警已恢复，无需确认" in answer.text and "has cleared" in answer.text and "1号棚" in answer.text
    assert ack_of(world, eid) == (None, None)


def test_an_expired_link_acknowledges_nothing(world: ApiWorld, paging: Paging) -> None:
    eid = paging.fire("gh01")
    token = paging.token(eid, FARMER)
    set_clock(world, world.now_ms + 24 * HOUR)  # the link was signed at now for ack_ttl_h = 24
    for answer in (world.client.get(f"/a/{token}"), world.client.post(f"/a/{token}")):
        assert answer.status_code == 410 and no_store(answer) and outcome(answer) == "expired"
        assert "链接已过期" in answer.text and "24 小时" in answer.text and "expired" in answer.text
    assert ack_of(world, eid) == (None, None)


def test_forged_cut_or_foreign_links_acknowledge_nothing(world: ApiWorld, paging: Paging) -> None:
    mine = paging.fire("gh01")
    other = paging.fire("gh02")
    token = paging.token(mine, FARMER)
    ref, expiry, sig = token.split(".")
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    bad = {
        "forged signature": f"{ref}.{expiry}.{flipped}",
        "another episode's reference": f"{ack_ref(other, FARMER)}.{expiry}.{sig}",
        "another person's reference": f"{ack_ref(mine, SECRETARY)}.{expiry}.{sig}",
        "a later expiry": f"{ref}.{'z' + expiry}.{sig}",
        "another secret": sign_ack_token("not-the-village-secret", ref, world.now_ms + HOUR),
        "cut by an SMS": token[: len(token) - 9],
        "not a token": "hello",
    }
    for what, forged in bad.items():
        for answer in (world.client.get(f"/a/{forged}"), world.client.post(f"/a/{forged}")):
            assert answer.status_code == 404 and no_store(answer), what
            assert outcome(answer) == "invalid" and "链接无效" in answer.text, what
    assert ack_of(world, mine) == (None, None) and ack_of(world, other) == (None, None)

    # the farmer's real link acknowledges its own episode only
    assert world.client.post(f"/a/{token}").status_code == 200
    assert ack_of(world, mine)[0] == FARMER and ack_of(world, other) == (None, None)


def test_each_person_acks_in_their_own_name_only(world: ApiWorld, paging: Paging) -> None:
    gh03 = paging.fire("gh03", severity="warning")  # a warning: only its farmer, 李国华, is paged
    assert [e.person for e in world.outbox.events_since(0) if e.episode == gh03] == [OTHER_FARMER]
    page = world.client.post(f"/a/{paging.token(gh03, OTHER_FARMER)}")
    assert page.status_code == 200 and "由 李国华 确认" in page.text
    assert ack_of(world, gh03)[0] == OTHER_FARMER


def test_a_signed_link_to_an_unknown_reference_or_episode(world: ApiWorld, paging: Paging) -> None:
    unknown_ref = sign_ack_token(ACK_SECRET, "aaaaaaaaaaaa", world.now_ms + HOUR)
    r = world.client.get(f"/a/{unknown_ref}")
    assert r.status_code == 404 and outcome(r) == "unknown" and "找不到这条告警" in r.text
    # queued by the collector, which stopped before the alert store recorded the episode
    eid = paging.fire("gh01")
    paging.world.alerts._db.execute("DELETE FROM alert_episode WHERE id=?", (eid,))
    paging.world.alerts._db.execute("DELETE FROM alert_transition WHERE episode=?", (eid,))
    lost = world.client.post(f"/a/{paging.token(eid, FARMER)}")
    assert lost.status_code == 404 and outcome(lost) == "unknown"


def test_punctuation_glued_to_the_link_by_a_chat_app_is_ignored(world: ApiWorld, paging: Paging) -> None:
    token = paging.token(paging.fire("gh01"), FARMER)
    r = world.client.get(f"/a/{token}{quote('。')}")
    assert r.status_code == 200 and outcome(r) == "confirm"


def test_without_a_secret_the_links_are_off(world: ApiWorld, paging: Paging) -> None:
    token = paging.token(paging.fire("gh01"), FARMER)
    world.client.app.state.api.ack_secret = None  # type: ignore[attr-defined]
    r = world.client.get(f"/a/{token}")
    assert r.status_code == 503 and outcome(r) == "unavailable"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_outcomes_are_counted_for_prometheus(world: ApiWorld, paging: Paging, method: str) -> None:
    token = paging.token(paging.fire("gh01"), FARMER)
    world.client.request(method, f"/a/{token}")
    world.client.get("/a/nonsense")
    metrics = world.client.get("/metrics").text
    counted = "confirm" if method == "GET" else "acked"
    assert f'qyb_ack_link_total{{outcome="{counted}"}} 1.0' in metrics
    assert 'qyb_ack_link_total{outcome="invalid"} 1.0' in metrics
    assert 'qyb_ack_link_total{outcome="expired"} 0.0' in metrics


def test_a_cleared_alert_that_began_long_before_its_first_transition_is_found(world: ApiWorld, paging: Paging) -> None:
    eid = paging.fire("gh01")
    paging.resolve(eid)
    # a stale or offline alert can begin days before its first recorded transition: the link still finds it
    world.alerts._db.execute("UPDATE alert_episode SET started_ms=started_ms-3*86400000 WHERE id=?", (eid,))
    r = world.client.get(f"/a/{paging.token(eid, FARMER)}")
    assert r.status_code == 200 and outcome(r) == "cleared"


def test_two_people_tapping_at_once_the_second_is_told_who_was_first(world: ApiWorld, paging: Paging) -> None:
    eid = paging.fire("gh01")  # critical: the owner and the secretary are paged
    api = world.client.app.state.api  # type: ignore[attr-defined]
    store = api.alerts

    class FarmerTapsFirst:
        """The farmer's tap lands between the secretary's page reading the alert and acknowledging it."""

        def __getattr__(self, name: str) -> object:
            return getattr(store, name)

        def acknowledge(self, episode: str, who: str, ts_ms: int) -> bool:
            store.acknowledge(episode, FARMER, ts_ms - 1)
            return store.acknowledge(episode, who, ts_ms)

    api.alerts = FarmerTapsFirst()
    set_clock(world, world.now_ms + 60_000)
    r = world.client.post(f"/a/{paging.token(eid, SECRETARY)}")
    assert r.status_code == 200 and outcome(r) == "already"
    assert "这条告警已经确认过了" in r.text and "由 李建军 于" in r.text
    assert ack_of(world, eid) == (FARMER, world.now_ms + 59_999)
    assert 'qyb_ack_link_total{outcome="already"} 1.0' in world.client.get("/metrics").text


@pytest.fixture
def group_paging(world: ApiWorld, paging: Paging) -> Paging:
    """Paging that also posts to the village app's group webhook (a group message naming several people)."""
    writer = NotifyingWriter(world.alerts, world.outbox, Router(paging.config, {"feed", "sms", "webhook"}))
    return replace(paging, writer=writer)


def group_token(world: ApiWorld, eid: str) -> str:
    """The token of the ack link in the group message of this episode, as the group chat shows it."""
    rows = world.outbox._db.execute(
        "SELECT notice FROM notify_message WHERE channel='webhook' AND episode=? AND state='firing'", (eid,)
    ).fetchall()
    [notice] = [json.loads(r[0]) for r in rows]
    assert notice["people"] == [FARMER, SECRETARY]  # critical: the owner and the secretary are named
    return str(notice["ack_url"]).rsplit("/", 1)[1]


def test_a_group_link_shows_a_button_per_named_person(world: ApiWorld, group_paging: Paging) -> None:
    eid = group_paging.fire("gh01")
    token = group_token(world, eid)
    assert token != group_paging.token(eid, FARMER)  # not the farmer's own link
    shown = world.client.get(f"/a/{token}")
    assert shown.status_code == 200 and no_store(shown) and outcome(shown) == "confirm"
    assert "确认人" not in shown.text and "请点您自己的名字" in shown.text and "<script" not in shown.text
    assert f'<form method="post" action="./{token}">' in shown.text
    buttons = re.findall(r'<button type="submit" name="as" value="([\w-]+)">([^<]*)<br><small>([^<]*)<', shown.text)
    assert buttons == [
        (FARMER, "我是 李建军，我去看", "I&#x27;m 李建军, on my way"),
        (SECRETARY, f"我是 {secretary_name(world)}，我去看", f"I&#x27;m {secretary_name(world)}, on my way"),
    ]
    assert ack_of(world, eid) == (None, None)


def secretary_name(world: ApiWorld) -> str:
    found = world.client.app.state.api.users.person("lijiahe", SECRETARY)  # type: ignore[attr-defined]
    assert found is not None
    return str(found.name)


def test_the_secretary_tapping_the_group_link_is_recorded_not_the_farmer(world: ApiWorld, group_paging: Paging) -> None:
    eid = group_paging.fire("gh01")
    token = group_token(world, eid)
    set_clock(world, world.now_ms + 60_000)
    done = world.client.post(f"/a/{token}", data={"as": SECRETARY})
    assert done.status_code == 200 and no_store(done) and outcome(done) == "acked"
    assert f"由 {secretary_name(world)} 确认" in done.text
    assert ack_of(world, eid) == (SECRETARY, world.now_ms + 60_000)
    # the farmer taps later: the first acknowledgement stays the secretary's
    later = world.client.post(f"/a/{token}", data={"as": FARMER})
    assert later.status_code == 200 and outcome(later) == "already"
    assert ack_of(world, eid)[0] == SECRETARY


def test_a_group_link_refuses_someone_it_does_not_name(world: ApiWorld, group_paging: Paging) -> None:
    eid = group_paging.fire("gh01")
    token = group_token(world, eid)
    for body in ({"as": OTHER_FARMER}, {"as": "nobody"}, {}):  # a real villager not named, a made-up id, no choice
        r = world.client.post(f"/a/{token}", data=body)
        assert r.status_code == 400 and no_store(r) and outcome(r) == "not_named", body
        assert "这条通知没有点到这个人" in r.text and "Nothing was acknowledged" in r.text
    assert ack_of(world, eid) == (None, None)
    assert 'qyb_ack_link_total{outcome="not_named"} 3.0' in world.client.get("/metrics").text


def test_a_personal_link_still_acknowledges_as_its_person(world: ApiWorld, group_paging: Paging) -> None:
    eid = group_paging.fire("gh01")
    token = group_paging.token(eid, FARMER)  # the farmer's feed link: one button, the farmer
    shown = world.client.get(f"/a/{token}")
    assert "确认人：李建军" in shown.text and 'name="as"' not in shown.text
    assert world.client.post(f"/a/{token}", data={"as": SECRETARY}).status_code == 400  # not someone else's either
    assert ack_of(world, eid) == (None, None)
    done = world.client.post(f"/a/{token}")
    assert done.status_code == 200 and outcome(done) == "acked" and ack_of(world, eid)[0] == FARMER
