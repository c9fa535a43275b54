"""Server-sent events per village: changed sites (readings, status) and alert transitions.

The API runs apart from the collector, so the stream polls the store: every
`stream_poll_s` it compares each visible site's newest timestamp, status and
alert count with what it sent, and the set of active episodes with the last
one it saw. One poll serves one client; a village has a few dozen phones.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import Caller, CallerDep, StateDep, village_of
from api.routes.alerts import episode_out
from api.routes.sites import active_counts, site_out
from api.state import ApiState
from api.status import firing_by_site
from qingyubiao.alerting import Episode

router = APIRouter(tags=["stream"])

KEEPALIVE_S = 15.0


def _event(name: str, data: object) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


class _Poller:
    def __init__(self, state: ApiState, caller: Caller) -> None:
        self.state, self.caller = state, caller
        self.sent: dict[str, tuple[int | None, str, int]] = {}
        self.episodes: dict[str, tuple[str, str | None]] = {}

    def poll(self) -> list[str]:
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
            active: dict[str, Episode] = {
                e.id: e for e in state.alerts.active_episodes(village) if e.site in self.caller.sites
            }
            for e in active.values():
                if self.episodes.get(e.id) != (e.state, e.ack_by):
                    events.append(_event("alert", episode_out(e, self.caller).model_dump()))
            for gone in self.episodes.keys() - active.keys():
                events.append(_event("alert_ended", {"id": gone}))
            self.episodes = {e.id: (e.state, e.ack_by) for e in active.values()}
        return events


@router.get(
    "/villages/{village}/stream",
    summary="live updates as server-sent events: `site` and `alert` / `alert_ended` (token as ?access_token=)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(village: str, request: Request, caller: CallerDep, state: StateDep) -> StreamingResponse:
    village_of(caller, village)
    poller = _Poller(state, caller)

    async def events() -> AsyncIterator[str]:
        yield "retry: 5000\n\n"
        quiet_since = time.monotonic()
        while not await request.is_disconnected():
            batch = await run_in_threadpool(poller.poll)
            for e in batch:
                yield e
            if batch:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > KEEPALIVE_S:
                yield ": keepalive\n\n"  # keeps 4G carrier NATs from dropping the idle connection
                quiet_since = time.monotonic()
            await asyncio.sleep(state.stream_poll_s)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
