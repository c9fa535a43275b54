"""One-tap acknowledge links from the notifications: `GET /a/{token}` shows the alert and a button,
`POST /a/{token}` (the button) acknowledges it in the name of the person the link was sent to.

The signed link is the credential, no login: it names one alert episode for one
person and expires (`qingyubiao.notifying`). A group message's link (WeCom,
DingTalk, village app) names the episode and the people the message names: the
page shows one button per person ("我是 李国华，我去看"), each posting
`as=<person id>`, and the POST acknowledges as that person only if the message
named them. GET never acknowledges: chat apps' link-preview bots and URL
scanners open links before a person does, and an acknowledgement stops the
repeats and the escalation (docs/design.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.ackpage import AckPage, Text, render, when
from api.deps import StateDep
from api.errors import errors
from api.state import ApiState
from qingyubiao.alerting import Episode
from qingyubiao.config import Person, Village
from qingyubiao.notifying import GROUP, AckCheck, AckRef, verify_ack_token

router = APIRouter(tags=["ack link"])

# never kept by a browser or a proxy: the answer changes with the alert, and the URL is a credential
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
# a chat app may glue the punctuation after a link to it (…/a/TOKEN。): the token is the part it can contain
_TOKEN = re.compile(r"[A-Za-z0-9._-]*")
OUTCOMES = ("confirm", "acked", "already", "cleared", "expired", "invalid", "unknown", "unavailable", "not_named")

_ON_PHONE: Text = ("请打开晴雨表手机页查看和确认告警。", "Open the phone page to see and acknowledge alerts.")
_CUT: Text = ("链接可能不完整（短信有时会截断链接）。", "The link may be incomplete (SMS sometimes cuts links).")
UNAVAILABLE = AckPage("unavailable", 503, ("一键确认暂不可用", "One-tap acknowledge is off"), lines=[_ON_PHONE])
INVALID = AckPage("invalid", 404, ("链接无效", "This link is not valid"), lines=[_CUT, _ON_PHONE])
UNKNOWN = AckPage("unknown", 404, ("找不到这条告警", "No such alert"), lines=[_ON_PHONE])
NOT_NAMED = AckPage(
    "not_named",
    400,
    ("这条通知没有点到这个人", "This notice does not name that person"),
    lines=[("未确认任何告警。请点您自己名字的按钮。", "Nothing was acknowledged. Tap the button with your own name."),
           _ON_PHONE],
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Link:
    """What a valid link points at."""

    ref: AckRef
    village: Village
    named: list[Person]  # who may acknowledge: the link's person, or the people a group message names
    episode: Episode

    @property
    def group(self) -> bool:
        return self.ref.person == GROUP


def lookup(state: ApiState, token: str) -> AckPage | Link:
    if not state.ack_secret or state.ack_refs is None or state.alerts is None:
        return UNAVAILABLE
    verdict, ref_id = verify_ack_token(state.ack_secret, token, state.now_ms())
    if verdict == AckCheck.EXPIRED:
        ttl = state.config.deployment.notify.ack_ttl_h
        return AckPage(
            "expired",
            410,
            ("链接已过期", "This link has expired"),
            lines=[(f"一键确认链接 {ttl:g} 小时内有效。", f"One-tap links work for {ttl:g} hours."), _ON_PHONE],
        )
    if verdict != AckCheck.OK or ref_id is None:
        return INVALID
    ref = state.ack_refs.resolve(ref_id)
    if ref is None or all(v.id != ref.village for v in state.config.village):
        return UNKNOWN
    # someone removed from the village: their link dies, and a group link loses their button
    named = [p for p in (state.users.person(ref.village, pid) for pid in ref.named) if p is not None]
    episode = state.alerts.episode(ref.episode)
    if not named or episode is None or episode.village != ref.village:
        return UNKNOWN
    return Link(ref, state.config.village_by_id(ref.village), named, episode)


def name_of(state: ApiState, village: str, person: str) -> str:
    found = state.users.person(village, person)
    return found.name if found else person


def described(
    link: Link,
    outcome: str,
    heading: Text,
    lines: list[Text],
    button: Text | None = None,
    choices: list[tuple[str, Text]] | None = None,
) -> AckPage:
    e = link.episode
    site = next((s.name for s in link.village.site if s.id == e.site), e.site or e.device)
    alert = (e.text_zh, e.text_en or e.text_zh)
    return AckPage(outcome, 200, heading, (site, site), alert, lines, button, choices or [])


def page_for(state: ApiState, link: Link) -> AckPage:
    """What the link's alert is now, for GET and for a POST that finds nothing left to do."""
    e, tz = link.episode, link.village.tz
    acked: list[Text] = []
    if e.ack_by is not None and e.ack_ms is not None:
        who, at = name_of(state, e.village, e.ack_by), when(e.ack_ms, tz)
        acked = [(f"由 {who} 于 {at[0]} 确认", f"Acknowledged by {who} at {at[1]}")]
    if e.ended_ms is not None:
        ended = when(e.ended_ms, tz)
        heading = ("告警已恢复，无需确认", "This alert has cleared: nothing to acknowledge")
        return described(link, "cleared", heading, [(f"恢复时间：{ended[0]}", f"Cleared at {ended[1]}"), *acked])
    if acked:
        return described(link, "already", ("这条告警已经确认过了", "This alert was already acknowledged"), acked)
    heading = ("请确认收到这条告警", "Please confirm you have seen this alert")
    stops: Text = ("确认后不再重复提醒，也不再升级。", "This stops the reminders and the escalation.")
    if link.group:  # a group chat: whoever taps says who they are, so the record names who went to look
        choose: Text = ("请点您自己的名字：", "Tap your own name:")
        buttons = [(p.id, (f"我是 {p.name}，我去看", f"I'm {p.name}, on my way")) for p in link.named]
        return described(link, "confirm", heading, [choose, stops], choices=buttons)
    person = link.named[0].name
    return described(
        link,
        "confirm",
        heading,
        [(f"确认人：{person}", f"Acknowledging as {person}"), stops],
        ("我知道了，马上处理", "Got it, I'm on it"),
    )


def acknowledge(state: ApiState, link: Link, as_: str | None) -> AckPage:
    """Acknowledge as `as_` (the tapped button of a group link; a personal link's person when None)."""
    if as_ is None and not link.group:
        as_ = link.named[0].id
    person = next((p for p in link.named if p.id == as_), None)
    if person is None:  # not named by this message (or a group POST without a choice): nothing is recorded
        return NOT_NAMED
    e = link.episode
    if e.ended_ms is not None or e.ack_by is not None:
        return page_for(state, link)  # the first acknowledgement stays: it says who went to look
    assert state.alerts is not None
    open_ = state.alerts.acknowledge(e.id, person.id, state.now_ms())
    # read it back: someone else may have tapped between our read and now, and the store keeps their ack
    found = state.alerts.episode(e.id)
    if found is None:
        return UNKNOWN
    if not open_ or found.ack_by != person.id or found.ack_ms is None:  # it ended, or another was first
        return page_for(state, Link(link.ref, link.village, link.named, found))
    at = when(found.ack_ms, link.village.tz)
    who = person.name
    return described(
        link, "acked", ("已确认 ✓", "Acknowledged ✓"), [(f"由 {who} 确认 · {at[0]}", f"by {who} at {at[1]}")]
    )


def answer(request: Request, token: str, page: AckPage, village: Village | None) -> HTMLResponse:
    counter = getattr(request.app.state, "ack_link_outcomes", None)
    if counter is not None:
        counter.labels(page.outcome).inc()
    place = village.name if village else ""
    title = (f"晴雨表 · {place}" if place else "晴雨表", f"Qingyubiao · {place}" if place else "Qingyubiao")
    lang = "en" if request.query_params.get("lang") == "en" else "zh"
    action = f"./{token}" + ("?lang=en" if lang == "en" else "")  # relative: works behind a path prefix too
    return HTMLResponse(render(page, title, lang, action), status_code=page.status, headers=HEADERS)


def _token(raw: str) -> str:
    m = _TOKEN.match(raw)
    return m.group(0) if m else ""


def _respond(raw: str, request: Request, state: ApiState, act: Callable[[ApiState, Link], AckPage]) -> HTMLResponse:
    token = _token(raw)
    found = lookup(state, token)
    if isinstance(found, AckPage):  # expired, forged, unknown: nothing to show or do
        return answer(request, token, found, None)
    return answer(request, token, act(state, found), found.village)


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


_PAGES: dict[int | str, dict[str, Any]] = {
    200: _html("the alert and a button (or what became of it: acknowledged, already acknowledged, cleared)"),
    404: _html("链接无效 / a forged, cut or unknown link"),
    410: _html("链接已过期 / the link has expired"),
    503: _html("一键确认未开启 / no ack secret is set"),
    **errors(413, 414, 422),
}
LinkToken = Annotated[str, Path(max_length=300, description="the signed token from the message")]


@router.get("/a/{token}", summary="one-tap ack link: a page showing the alert (acknowledges nothing)", responses=_PAGES)
def show(token: LinkToken, request: Request, state: StateDep) -> HTMLResponse:
    return _respond(token, request, state, page_for)  # a link preview bot only ever sees this page


@router.post(
    "/a/{token}",
    summary="the ack link page's button: acknowledge in the name of the person the link (or `as`) names",
    responses=_PAGES | {400: _html("这条消息没有点名此人 / `as` names someone the message did not name")},
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": {"as": {"type": "string", "maxLength": 64}}}
                }
            },
        }
    },
)
async def confirm(token: LinkToken, request: Request, state: StateDep) -> HTMLResponse:
    # the form is urlencoded and tiny: parsed here rather than adding python-multipart for Form()
    form = parse_qs((await request.body())[:4096].decode("utf-8", "replace"))
    as_ = form.get("as", [None])[0]
    return await run_in_threadpool(_respond, token, request, state, lambda s, link: acknowledge(s, link, as_))
