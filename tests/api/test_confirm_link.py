"""确认灌溉 links: an irrigation advice paged through the real router and outbox carries a signed confirm link
for a block in confirm mode; the API shows the advice without a login, the button asks the valve to open for
the advised time once a day, a replayed, forged, expired or ack-only link asks nothing, and an interlock
refuses with its reason."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import pytest

from alerts.notify import text
from alerts.notify.notice import Notice
from alerts.notify.outbox import Outbox
from alerts.notify.routing import Router
from alerts.notify.writer import NotifyingWriter
from ingest.store.sqlite_risks import SqliteRiskBook
from ingest.store.sqlite_water import SqliteWaterBook
from qingyubiao.alerting import Episode, Transition
from qingyubiao.config import Config
from qingyubiao.notifying import CONFIRM, ack_ref, sign_ack_token
from qingyubiao.risks import DayRisk
from qingyubiao.series import SeriesIndex
from tests.api.conftest import ACK_SECRET, FARMER, PUBLIC_URL, ApiWorld, build_world
from tests.notify.conftest import notify_config

V = "/api/v1/villages/lijiahe"
ADVICE = {"method": "hargreaves", "et0_mm": 3.0, "etc_mm": 3.3, "depletion_mm": 40.0, "raw_mm": 38.0,
          "taw_mm": 95.0, "need_mm": 40.0, "due_mm": 40.0, "drip_hours": 0.75, "days_left": 0,
          "before": None}  # fmt: skip


def valve_config(mode: str) -> Config:
    def edit(raw: dict[str, Any]) -> None:
        v = raw["village"][0]
        v["device"].append({"id": "gh01-valve", "site": "gh01", "metrics": ["bat_v"]})
        for site in v["site"]:
            if site["id"] == "gh01":
                site["irrigation"] |= {"valve": "gh01-valve", "mode": mode, "max_open_min": 30}

    config = notify_config(edit=edit)
    notify = config.deployment.notify.model_copy(update={"ack_secret": ACK_SECRET, "public_url": PUBLIC_URL})
    return config.model_copy(update={"deployment": config.deployment.model_copy(update={"notify": notify})})


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ApiWorld]:
    yield from build_world(valve_config("confirm"), SeriesIndex(valve_config("confirm")), tmp_path)


def advise(world: ApiWorld, config: Config, detail: dict[str, Any] | None = None) -> Notice:
    """The day's advice in the risk book and its irrigation_due alert paged; the farmer's feed notice."""
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    book = SqliteRiskBook(world.db)
    book.write_risks([DayRisk("lijiahe", "gh01", "irrigation", today, 3, detail or ADVICE)])
    book.close()
    eid = f"lijiahe/gh01/agronomy:irrigation/{today}-{world.now_ms}"
    zh, en = "需要灌溉：根层缺水 40.0 毫米。", "irrigation due: 40.0 mm short."
    t = Transition(eid, "agronomy:irrigation", "irrigation_due", "warning", "farmer", "firing", world.now_ms,
                   "lijiahe", "gh01", "", "", 40.0, math.nan, text_zh=zh, text_en=en)  # fmt: skip
    ep = Episode(eid, "agronomy:irrigation", "irrigation_due", "warning", "farmer", "lijiahe", "gh01", "", "",
                 "firing", world.now_ms, world.now_ms, None, False, 40.0, zh, en)  # fmt: skip
    NotifyingWriter(world.alerts, world.outbox, Router(config, {"feed", "sms"})).record([t], [ep], None, world.now_ms)
    [queued] = [p.notice for p in world.outbox.pending("feed", FARMER, world.now_ms + 1) if p.notice.episode == eid]
    return queued


def token_of(url: str | None) -> str:
    assert url is not None and url.startswith(f"{PUBLIC_URL}/w/")
    return url.rsplit("/", 1)[1]


def outcome(r: httpx2.Response) -> str:
    m = re.search(r'data-outcome="(\w+)"', r.text)
    assert m is not None, r.text
    return m.group(1)


def requests(world: ApiWorld) -> list[Any]:
    book = SqliteWaterBook(world.db)
    try:
        return book.requests_since("lijiahe", 0)
    finally:
        book.close()


def test_the_message_carries_the_link_and_the_button_asks_for_the_advised_opening_once(world: ApiWorld) -> None:
    notice = advise(world, valve_config("confirm"))
    zh, _ = text.single(notice, world.now_ms)
    assert f"确认灌溉请点：{notice.confirm_url}" in zh and f"收到请点：{notice.ack_url}" in zh
    token = token_of(notice.confirm_url)

    shown = world.client.get(f"/w/{token}")  # no login: the signed link is the credential
    assert shown.status_code == 200 and outcome(shown) == "confirm", shown.text
    assert "确认灌溉 30 分钟" in shown.text  # 0.75 h of drip, held to the block's 30-minute opening
    assert "阀门打开 30 分钟，到时自动关闭" in shown.text and "确认人：李建军" in shown.text
    assert requests(world) == []  # opening the link asks for nothing (a chat app's preview bot does that)

    done = world.client.post(f"/w/{token}")
    assert done.status_code == 200 and outcome(done) == "requested", done.text
    [r] = requests(world)
    assert (r.site, r.duration_s, r.by, r.state) == ("gh01", 1800, FARMER, "pending")
    assert r.id.startswith(CONFIRM)

    replayed = world.client.post(f"/w/{token}")  # tapped twice, or the link replayed
    assert replayed.status_code == 200 and outcome(replayed) == "already"
    assert "今天已经确认过灌溉" in replayed.text and len(requests(world)) == 1
    assert outcome(world.client.get(f"/w/{token}")) == "already"


def test_a_forged_an_expired_or_an_ack_token_asks_nothing(world: ApiWorld) -> None:
    notice = advise(world, valve_config("confirm"))
    token, ack = token_of(notice.confirm_url), notice.ack_url.rsplit("/", 1)[1]  # type: ignore[union-attr]
    assert world.client.post(f"/w/{ack}").status_code == 404  # an acknowledgement is no confirmation
    assert world.client.post(f"/a/{token}").status_code == 404  # nor the other way round
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert outcome(world.client.post(f"/w/{forged}")) == "invalid"
    ref = ack_ref(notice.episode, FARMER)
    expired = sign_ack_token(ACK_SECRET, CONFIRM + ref, world.now_ms - 1000)
    r = world.client.post(f"/w/{expired}")
    assert r.status_code == 410 and "链接已过期" in r.text
    assert requests(world) == []


def test_an_interlock_refuses_with_its_reason(world: ApiWorld) -> None:
    token = token_of(advise(world, valve_config("confirm")).confirm_url)
    r = world.client.post(f"{V}/sites/gh01/irrigation/lock", json={"reason": "换滴灌带"}, headers=world.auth(FARMER))
    assert r.status_code == 201
    refused = world.client.post(f"/w/{token}")
    assert refused.status_code == 409 and outcome(refused) == "refused"
    assert "管路已被" in refused.text and "锁定" in refused.text
    assert requests(world) == []


def test_no_water_due_now_shows_so_and_asks_nothing(world: ApiWorld) -> None:
    later = ADVICE | {"days_left": 3, "need_mm": 0.0}
    token = token_of(advise(world, valve_config("confirm"), later).confirm_url)
    assert outcome(world.client.get(f"/w/{token}")) == "cleared"
    assert outcome(world.client.post(f"/w/{token}")) == "cleared" and requests(world) == []


@pytest.mark.parametrize("mode", ["advice", "automatic"])
def test_only_a_confirm_mode_block_gets_a_link(tmp_path: Path, mode: str) -> None:
    config = valve_config(mode)
    for world in build_world(config, SeriesIndex(config), tmp_path):
        notice = advise(world, config)
        assert notice.confirm_url is None and notice.ack_url is not None
        assert "确认灌溉" not in text.single(notice, world.now_ms)[0]


def test_the_phone_api_says_how_long_the_valve_would_open(world: ApiWorld) -> None:
    advise(world, valve_config("confirm"))
    [row] = [r for r in world.client.get(f"{V}/risks", headers=world.auth(FARMER)).json() if r["model"] == "irrigation"]
    assert (row["valve_mode"], row["valve_minutes"]) == ("confirm", 30)


def test_the_outbox_keeps_the_link_across_a_restart(world: ApiWorld) -> None:
    notice = advise(world, valve_config("confirm"))
    again = Outbox(world.db, readonly=True)
    try:
        [kept] = [p.notice for p in again.pending("feed", FARMER, world.now_ms + 1) if p.notice.key == notice.key]
    finally:
        again.close()
    assert kept.confirm_url == notice.confirm_url
