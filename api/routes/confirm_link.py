"""One-tap 确认灌溉 links from an irrigation notice: `GET /w/{token}` shows the block's advice and a button,
`POST /w/{token}` (the button) asks the block's valve to open for the advised time, in the name of the person
the link names.

A confirm link is the notice's ack reference signed with the `w-` prefix (qingyubiao.notifying.CONFIRM), so
it names the same irrigation episode and people as the message's ack link, expires with it, and neither
token works as the other. GET never asks for water (link-preview bots open links first). A link asks once a
village day: the request's id is the reference and the day, so a replayed or double-tapped link finds its
request and sends nothing more. The collector checks every interlock again before it sends a command.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.ackpage import AckPage, Text
from api.deps import StateDep
from api.routes.ack_link import _PAGES, INVALID, NOT_NAMED, UNAVAILABLE, UNKNOWN, LinkToken, _token, answer
from api.routes.water import refusal_now
from api.state import ApiState
from qingyubiao.alerting import Episode
from qingyubiao.config import Person, Site, Village
from qingyubiao.notifying import CONFIRM, GROUP, AckCheck, AckRef, verify_ack_token
from qingyubiao.risks import WATER_MODEL
from qingyubiao.water import ValveRequest, advised_minutes

router = APIRouter(tags=["confirm link"])

OUTCOMES = ("confirm", "requested", "already", "cleared", "refused", "expired", "invalid", "unknown", "unavailable")
_ON_PHONE: Text = ("也可以在晴雨表手机页上确认灌溉。", "You can also confirm on the phone page.")
NOT_CONFIRM = AckPage(
    "unknown", 409, ("这个地块不由晴雨表开阀", "Qingyubiao does not open this block's valve"), lines=[_ON_PHONE]
)


@dataclass(frozen=True, slots=True)
class Advice:
    """What a valid confirm link points at: the irrigation episode, the block, the advised opening."""

    ref: AckRef
    village: Village
    site: Site
    named: list[Person]
    episode: Episode
    minutes: int  # 0: no water is due now
    request_id: str  # this link's request today

    @property
    def group(self) -> bool:
        return self.ref.person == GROUP


def lookup(state: ApiState, token: str) -> AckPage | Advice:
    if not state.ack_secret or state.ack_refs is None or state.alerts is None or not state.water or not state.risks:
        return UNAVAILABLE
    verdict, ref_id = verify_ack_token(state.ack_secret, token, state.now_ms())
    if verdict == AckCheck.EXPIRED:
        ttl = state.config.deployment.notify.ack_ttl_h
        return AckPage("expired", 410, ("链接已过期", "This link has expired"),
                       lines=[(f"确认灌溉链接 {ttl:g} 小时内有效。", f"Confirm links work for {ttl:g} hours."),
                              _ON_PHONE])  # fmt: skip
    if verdict != AckCheck.OK or ref_id is None or not ref_id.startswith(CONFIRM):
        return INVALID  # an ack token is no confirmation
    ref = state.ack_refs.resolve(ref_id.removeprefix(CONFIRM))
    if ref is None or all(v.id != ref.village for v in state.config.village):
        return UNKNOWN
    named = [p for p in (state.users.person(ref.village, pid) for pid in ref.named) if p is not None]
    episode = state.alerts.episode(ref.episode)
    if not named or episode is None or episode.village != ref.village:
        return UNKNOWN
    village = state.config.village_by_id(ref.village)
    site = next((s for s in village.site if s.id == episode.site), None)
    irr = site.irrigation if site else None
    if site is None or irr is None or not irr.valve or irr.mode != "confirm":
        return NOT_CONFIRM
    newest = [x for x in state.risks.risks(village.id) if x.site == site.id and x.model == WATER_MODEL]
    minutes = advised_minutes(newest[0].detail, site) if newest and episode.ended_ms is None else 0
    today = dt.datetime.fromtimestamp(state.now_ms() / 1000, ZoneInfo(village.tz)).date().isoformat()
    return Advice(ref, village, site, named, episode, minutes, f"{ref_id}-{today}")


def described(a: Advice, outcome: str, heading: Text, lines: list[Text], status: int = 200, **kw: Any) -> AckPage:
    e = a.episode
    return AckPage(outcome, status, heading, (a.site.name, a.site.name), (e.text_zh, e.text_en or e.text_zh), lines,
                   **kw)  # fmt: skip


def page_for(state: ApiState, a: Advice) -> AckPage:
    """What the link can do now, for GET and for a POST that finds nothing to do."""
    assert state.water is not None
    since = state.now_ms() - 2 * 86_400_000  # the request of today, whenever today began
    asked = next((r for r in state.water.requests_since(a.village.id, since) if r.id == a.request_id), None)
    if asked is not None:
        mins = round(asked.duration_s / 60)
        return described(a, "already", ("今天已经确认过灌溉", "Watering was already confirmed today"),
                         [(f"阀门打开 {mins} 分钟（{STATE_ZH.get(asked.state, asked.state)}）",
                           f"the valve opens for {mins} min ({asked.state})")])  # fmt: skip
    if a.minutes == 0:
        return described(a, "cleared", ("现在不需要灌溉", "No watering is due now"), [_ON_PHONE])
    heading: Text = ("确认灌溉", "Confirm watering")
    ends: Text = (
        f"阀门打开 {a.minutes} 分钟，到时自动关闭。",
        f"The valve opens for {a.minutes} min and closes by itself.",
    )
    if a.group:
        buttons = [(p.id, (f"我是 {p.name}，确认灌溉", f"I'm {p.name}: water it")) for p in a.named]
        return described(a, "confirm", heading, [ends, ("请点您自己的名字：", "Tap your own name:")], choices=buttons)
    return described(a, "confirm", heading, [ends, (f"确认人：{a.named[0].name}", f"Confirming as {a.named[0].name}")],
                     button=(f"确认灌溉 {a.minutes} 分钟", f"Water {a.minutes} min"))  # fmt: skip


def closes(minutes: int) -> Text:
    return f"阀门打开 {minutes} 分钟，到时自动关闭。", f"The valve opens for {minutes} min and closes by itself."


STATE_ZH = {"pending": "等待发送", "sent": "已发送", "acked": "阀门已响应", "done": "已完成", "refused": "被拒绝",
            "timeout": "阀门未响应", "failed": "发送失败"}  # fmt: skip


def confirm_watering(state: ApiState, a: Advice, as_: str | None) -> AckPage:
    if as_ is None and not a.group:
        as_ = a.named[0].id
    person = next((p for p in a.named if p.id == as_), None)
    if person is None:
        return NOT_NAMED
    if a.minutes == 0:
        return page_for(state, a)
    assert state.water is not None and a.site.irrigation is not None
    now_ms = state.now_ms()
    r = ValveRequest(
        a.request_id, a.village.id, a.site.id, a.minutes * 60, "确认灌溉（短信/群消息链接）", person.id, now_ms
    )
    refusal = refusal_now(state.water, a.village, a.site.id, a.site.irrigation, r, now_ms)
    if refusal is not None:
        return described(a, "refused", ("不能开阀", "The valve cannot open"), [refusal], status=409)
    if not state.water.request(r):  # tapped twice, or replayed: the first request stands
        return page_for(state, a)
    return described(a, "requested", ("已确认灌溉 ✓", "Watering confirmed ✓"),
                     [closes(a.minutes), (f"确认人：{person.name}", f"by {person.name}")])  # fmt: skip


def _respond(raw: str, request: Request, state: ApiState, act: Any) -> HTMLResponse:
    token = _token(raw)
    found = lookup(state, token)
    if isinstance(found, AckPage):
        return answer(request, token, found, None)
    return answer(request, token, act(state, found), found.village)


@router.get("/w/{token}", summary="确认灌溉 link: the block's irrigation advice and a button (asks for nothing)",
            responses=_PAGES)  # fmt: skip
def show(token: LinkToken, request: Request, state: StateDep) -> HTMLResponse:
    return _respond(token, request, state, page_for)


@router.post(
    "/w/{token}",
    summary="the confirm link page's button: open the block's valve for the advised time (once a day per link)",
    responses=_PAGES | {409: {"description": "an interlock refuses, or the block is not in confirm mode"}},
)
async def confirm(token: LinkToken, request: Request, state: StateDep) -> HTMLResponse:
    form = parse_qs((await request.body())[:4096].decode("utf-8", "replace"))
    as_ = form.get("as", [None])[0]
    return await run_in_threadpool(_respond, token, request, state, lambda s, a: confirm_watering(s, a, as_))
