"""Irrigations entered by hand and the water audit of each block.

A farmer records the watering of their own blocks (the secretary of every block); the root-zone balance
counts it at the collector's next run. The audit lists every command, confirmation, refusal, device
state and recorded irrigation of the caller's blocks, newest first.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, StateDep, site_of, village_of
from api.errors import errors
from api.params import SiteId, VillageId
from api.state import ApiState
from qingyubiao.water import AuditEntry, Irrigated, WaterBook

router = APIRouter(tags=["irrigation"])


class IrrigationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="the village date it was watered")]
    minutes: float | None = Field(None, gt=0, le=1440, description="how long the drip ran (or give mm)")
    mm: float | None = Field(None, gt=0, le=300, description="how much water, mm over the block (or minutes)")
    note: str = Field("", max_length=200)


class IrrigationOut(BaseModel):
    site: str
    day: str
    minutes: float
    mm: float
    by: str


class AuditOut(BaseModel):
    ts_ms: int
    site: str
    kind: str
    by: str
    reason: str
    detail: dict[str, Any]


def book(state: ApiState) -> WaterBook:
    if state.water is None:
        raise HTTPException(503, "灌溉记录未接入 / the irrigation records are not connected")
    return state.water


@router.post(
    "/villages/{village}/sites/{site}/irrigation",
    status_code=201,
    summary="record an irrigation done by hand: the water balance counts it",
    responses=errors(400, 404, 503),
)
def record(village: VillageId, site: SiteId, body: IrrigationIn, caller: CallerDep, state: StateDep) -> IrrigationOut:
    s = site_of(caller, village, site)
    if (body.minutes is None) == (body.mm is None):  # a 400: the document cannot say "one of the two"
        raise HTTPException(400, "请填写灌溉时长或水量其中一项 / give minutes or mm, one of them")
    rate = s.drip_mm_h
    if rate is None:
        raise HTTPException(400, f"{s.name} 没有灌溉配置 / {site} has no irrigation config")
    try:
        day = dt.date.fromisoformat(body.day)
    except ValueError:
        raise HTTPException(400, f"不是有效日期 / not a date: {body.day!r}") from None
    now_ms = state.now_ms()
    tz = ZoneInfo(caller.village.tz)
    today = dt.datetime.fromtimestamp(now_ms / 1000, tz).date()
    if day > today or day.year != today.year:
        raise HTTPException(400, "日期须在今年且不在未来 / the day must be this year and not in the future")
    minutes = body.minutes if body.minutes is not None else (body.mm or 0.0) / rate * 60.0
    mm = body.mm if body.mm is not None else (body.minutes or 0.0) / 60.0 * rate
    start_ms = int(dt.datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() * 1000)
    x = Irrigated(village, site, day.isoformat(), start_ms, round(minutes, 1), round(mm, 1), "manual",
                  caller.person.id)  # fmt: skip
    book(state).record_irrigation(x, body.note or "手动记录 / entered by hand")
    return IrrigationOut(site=site, day=x.day, minutes=x.minutes, mm=x.mm, by=x.by)


@router.get(
    "/villages/{village}/irrigation/audit",
    summary="the water audit of the visible blocks, newest first",
    responses=errors(404, 503),
)
def audit(
    village: VillageId,
    caller: CallerDep,
    state: StateDep,
    site: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[AuditOut]:
    village_of(caller, village)
    sites = set(caller.sites) if site is None else ({site} & set(caller.sites))
    if site is not None and not sites:
        raise HTTPException(404, f"没有这个地块 / no site {site!r}")
    entries: list[AuditEntry] = book(state).audit_log(village, sites, limit)
    return [AuditOut(ts_ms=e.ts_ms, site=e.site, kind=e.kind, by=e.by, reason=e.reason, detail=e.detail)
            for e in entries]  # fmt: skip
