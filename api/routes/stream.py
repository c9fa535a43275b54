"""Server-sent events per village: changed sites (readings, status), alert transitions, and the caller's notices.

The API runs apart from the collector, so the stream polls the store: every
`stream_poll_s` it compares each visible site's newest timestamp, status and
alert count with what it sent, and the set of active episodes with the last
one it saw. One poll serves one client; a village has a few dozen phones.

`notice` events are the caller's own rows of the outbox's feed
(`NotificationFeed`), each with its feed id as the SSE `id:`. A reconnecting
EventSource sends the last one back as `Last-Event-ID` and the stream resumes
after it; a new stream starts at the newest id, so it replays no history.

The stream checks its token again every `token_recheck_s` (30 s by default): once it is revoked or has
expired, a `logout` event says why and the stream ends (the page then asks for a new login link).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from api.deps import REFUSED, Caller, CallerDep, StateDep, village_of
from api.errors import errors
from api.params import AccessToken, VillageId
from api.routes.alerts import episode_out, firing_episodes
from api.routes.sites import active_counts, site_out
from api.state import ApiState
from api.status import firing_by_site
from api.users import Refused
from qingyubiao.alerting import Episode
from qingyubiao.notifying import FeedEvent

router = APIRouter(tags=["stream"])

NOTICES_PER_POLL = 100  # a phone resuming after a long absence catches up over a few polls


def _event(name: str, data: object, event_id: int | None = None) -> ServerSentEvent:
    # raw UTF-8 JSON: FastAPI's own encoding escapes every Chinese character to six bytes, on weak 4G
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return ServerSentEvent(event=name, raw_data=text, id=None if event_id is None else str(event_id))


def notice_out(e: FeedEvent, caller: Caller) -> dict[str, object]:
    """A notice as the phone page shows it (the ack link stays out: the page acknowledges through the API)."""
    site = caller.village.site
    return {
        "id": e.id,
        "episode": e.episode,
        "state": e.state,
        "severity": e.severity,
        "site": e.site,
        "site_name": next((s.name for s in site if s.id == e.site), e.site),
        "ts_ms": e.ts_ms,
        "text_zh": e.text_zh,
        "text_en": e.text_en,
    }


def resume_after(state: ApiState, last_event_id: str | None) -> int:
    """Where the notices start: after Last-Event-ID when it is a sane id, else after the newest (no replay)."""
    newest = state.feed.newest_id() if state.feed is not None else 0
    text = (last_event_id or "").strip()
    # ASCII and short: int() refuses '²' (isdigit() accepts it) and more than 4300 digits
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return min(int(text), newest)  # an id from before a database reset must not hide new ones
    return newest


class _Poller:
    def __init__(self, state: ApiState, caller: Caller, notices_after: int = 0) -> None:
        self.state, self.caller = state, caller
        self.sent: dict[str, tuple[int | None, str, int]] = {}
        self.episodes: dict[str, tuple[str, str | None]] = {}
        self.notices_after = notices_after

    def poll(self) -> list[ServerSentEvent]:
        state, village = self.state, self.caller.village.id
        events = []
        firing = firing_by_site(state, village)
        counts = active_counts(state, village)
        for s in self.caller.sites.values():
            out = site_out(state, village, s, firing.get(s.id, []), counts.get(s.id, 0))
            mark = (out.updated_ms, out.status, out.active_alerts)
            if self.sent.get(s.id) != mark:
                self.sent[s.id] = mark
                events.append(_event("site", out.model_dump()))
        if state.alerts is not None:
            active: dict[str, Episode] = {  # what `GET alerts?status=active` lists: pending ones are not sent
                e.id: e for e in firing_episodes(state.alerts, village) if e.site in self.caller.sites
            }
            for e in active.values():
                if self.episodes.get(e.id) != (e.state, e.ack_by):
                    events.append(_event("alert", episode_out(e, self.caller).model_dump()))
            for gone in self.episodes.keys() - active.keys():
                events.append(_event("alert_ended", {"id": gone}))
            self.episodes = {e.id: (e.state, e.ack_by) for e in active.values()}
        if state.feed is not None:
            person = self.caller.person.id
            # by village too: person ids (e.g. "secretary") repeat across villages
            for n in state.feed.events_since(self.notices_after, person, NOTICES_PER_POLL, village=village):
                self.notices_after = n.id
                events.append(_event("notice", notice_out(n, self.caller), n.id))
        return events


class StreamStart:
    """What a stream needs before its first byte: the village checked (a 404 must come before the 200) and
    the notice id it resumes after."""

    def __init__(self, poller: _Poller, after: int) -> None:
        self.poller, self.after = poller, after


async def stream_start(
    village: VillageId,
    caller: CallerDep,
    state: StateDep,
    last_event_id: Annotated[
        str | None, Header(max_length=40, description="the last notice id seen (EventSource sends it)")
    ] = None,
) -> StreamStart:
    village_of(caller, village)
    after = await run_in_threadpool(resume_after, state, last_event_id)
    return StreamStart(_Poller(state, caller, after), after)


@router.get(
    "/villages/{village}/stream",
    summary="live updates as server-sent events: `site`, `alert` / `alert_ended` and the caller's `notice` "
    "(token as ?access_token=; notices resume after Last-Event-ID)",
    response_class=EventSourceResponse,
    responses=errors(404),
)
async def stream(
    village: VillageId,
    request: Request,
    caller: CallerDep,
    state: StateDep,
    start: Annotated[StreamStart, Depends(stream_start)],
    access_token: AccessToken = None,  # read by the caller dependency; listed so the document says so
) -> AsyncIterator[ServerSentEvent]:
    # FastAPI frames the events, sets the no-cache / no-buffering headers and sends a `: ping` comment
    # after 15 s of quiet, which keeps 4G carrier NATs from dropping the idle connection.
    # The starting id at once: a reconnect after a quiet spell resumes here, not at the then newest.
    yield ServerSentEvent(id=str(start.after), retry=5000)
    recheck_s = state.config.deployment.api.token_recheck_s
    checked = time.monotonic()
    while not await request.is_disconnected():
        if time.monotonic() - checked >= recheck_s:  # a revoked or expired token ends the stream
            checked = time.monotonic()
            found = await run_in_threadpool(state.users.check, caller.session.token_hash, state.now_ms())
            if isinstance(found, Refused):
                yield _event("logout", {"reason": found.value, "detail": REFUSED[found]})
                return
        for e in await run_in_threadpool(start.poller.poll):
            yield e
        await asyncio.sleep(state.stream_poll_s)
