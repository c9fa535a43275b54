"""Problems of the box for the overview's red banner: read from the collector's own /metrics.

The collector may run in another process (`qyb collect` beside `qyb api`), and on a full disk it cannot
write its problem anywhere the API would read; its Prometheus endpoint is in memory, so it can still say.
Asked at most every few seconds, whoever polls.
"""

from __future__ import annotations

import threading
import time
from typing import Literal

import httpx
from fastapi import APIRouter
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel

from api.deps import CallerDep, StateDep, require, village_of
from api.errors import errors
from api.params import VillageId
from api.schemas import CheckOut, check_out
from qingyubiao.box import Level, collector_metrics_url
from qingyubiao.health import PROBLEM_METRIC, Part, Problem

router = APIRouter(tags=["problems"])
CACHE_S = 5.0


class ProblemOut(BaseModel):
    part: Part
    since_ms: int
    detail: str
    text_zh: str
    text_en: str


class ProblemsOut(BaseModel):
    # reachable: the collector answered; unreachable: it did not (not running?); unwatched: metrics_port = 0
    collector: Literal["reachable", "unreachable", "unwatched"]
    problems: list[ProblemOut]
    # the box's other failing parts (`qyb status`): the disk almost full, the broker down, no database
    box: list[CheckOut] = []


BANNER_SKIPS = {"collector", "dispatcher"}  # said by `collector` above; so are the parts it has problems with


def parse_problems(text: str) -> list[Problem]:
    out = []
    for family in text_string_to_metric_families(text):
        if family.name == PROBLEM_METRIC:
            for s in family.samples:
                out.append(Problem(Part(s.labels["part"]), int(s.value * 1000), s.labels["detail"]))
    return sorted(out, key=lambda p: p.since_ms)


_cache: dict[str, tuple[float, ProblemsOut]] = {}
_lock = threading.Lock()


def ask_collector(url: str | None) -> ProblemsOut:
    if url is None:
        return ProblemsOut(collector="unwatched", problems=[])
    with _lock:
        hit = _cache.get(url)
        if hit and time.monotonic() - hit[0] < CACHE_S:
            return hit[1]
    try:
        r = httpx.get(url, timeout=1.0)
        r.raise_for_status()
        found = ProblemsOut(
            collector="reachable",
            problems=[
                ProblemOut(part=p.part, since_ms=p.since_ms, detail=p.detail, text_zh=p.text_zh, text_en=p.text_en)
                for p in parse_problems(r.text)
            ],
        )
    except (httpx.HTTPError, ValueError):
        found = ProblemsOut(collector="unreachable", problems=[])
    with _lock:
        _cache[url] = (time.monotonic(), found)
    return found


@router.get(
    "/villages/{village}/problems",
    summary="what keeps the box from collecting now: store writes failing, broker unreachable, collector silent",
    dependencies=[require("secretary", "admin")],
    responses=errors(403, 404),
)
def problems(village: VillageId, caller: CallerDep, state: StateDep) -> ProblemsOut:
    village_of(caller, village)
    found = ask_collector(collector_metrics_url(state.config))
    if state.box is None:
        return found
    said = BANNER_SKIPS | {p.part.value for p in found.problems}
    down = [check_out(c) for c in state.box() if c.level is Level.DOWN and c.part not in said]
    return found.model_copy(update={"box": down})
