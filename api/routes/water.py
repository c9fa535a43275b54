"""Irrigations entered by hand and the water audit of each block.

A farmer records the watering of their own blocks (the secretary of every block); the root-zone balance
counts it at the collector's next run. The audit lists every command, confirmation, refusal, device
state and recorded irrigation of the caller's blocks, newest first.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, StateDep, site_of, village_of
from api.errors import errors
from api.params import SiteId, VillageId
from api.state import ApiState
from qingyubiao.config import Irrigation, Village
from qingyubiao.interlocks import Now, Request, check
from qingyubiao.spreadsheet import csv_chunks, local_time, site_names, utc_time
from qingyubiao.water import AuditEntry, Irrigated, ValveRequest, WaterBook

router = APIRouter(tags=["irrigation"])


class IrrigationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="the village date it was watered")]
    minutes: float | None = Field(None, gt=0, le=1440, description="how long the drip ran (or give mm)")
    mm: float | None = Field(None, gt=0, le=300, description="how much water, mm over the block (or minutes)")
    note: str = Field("", max_length=200)


class RequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minutes: float = Field(gt=0, le=1440, description="how long to open the block's valve")
    reason: str = Field("确认灌溉", max_length=200)
    fertigation_l: float = Field(0.0, ge=0, le=10_000, description="fertiliser solution dosed during the opening")
    frost: bool = Field(False, description="watering against frost (where the block allows it)")


class RequestOut(BaseModel):
    id: str
    site: str
    minutes: float
    state: str


class LockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=200, description="e.g. 换滴灌带 / replacing the drip tape")


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


AUDIT_CSV = ("time_local", "time_utc", "site", "site_name", "kind", "by", "reason", "minutes", "mm", "valve",
             "command", "soil_vwc_pct", "soil_vwc_at_utc")  # fmt: skip
READING_WINDOW_MS = 2 * 3_600_000  # the block's soil moisture reading at most this long before the entry


@router.get(
    "/villages/{village}/irrigation/audit.csv",
    summary="the water audit as CSV for Excel (UTF-8 with BOM), each entry beside the block's soil moisture then",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **errors(404, 503)},
)
def audit_csv(
    village: VillageId,
    caller: CallerDep,
    state: StateDep,
    site: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 5000,
) -> Response:
    entries = audit(village, caller, state, site, limit)
    v = caller.village
    tz = ZoneInfo(v.tz)
    soil = {s.id: next((i for i in state.site_series.get((village, s.id), [])
                        if state.index.keys[i].metric == "soil_vwc_pct"), None) for s in v.site}  # fmt: skip
    names = site_names([v])
    rows: list[list[object]] = []
    for e in reversed(entries):  # oldest first, as a ledger reads
        series = soil.get(e.site)
        value, seen = "", ""
        if series is not None:
            h = state.reader.history(series, e.ts_ms - READING_WINDOW_MS, e.ts_ms + 1, 60_000)
            if len(h.bucket_ms):
                value = f"{float(h.vmean[-1]):.1f}"
                seen = dt.datetime.fromtimestamp(int(h.bucket_ms[-1]) / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%MZ")
        d = e.detail
        minutes = d.get("minutes") if e.kind == "irrigated" else (d["duration_s"] / 60 if "duration_s" in d else "")
        rows.append([local_time(e.ts_ms, tz), utc_time(e.ts_ms), e.site, names.get((village, e.site), e.site),
                     e.kind, e.by, e.reason, minutes, d.get("mm", ""), d.get("valve", ""), d.get("command", ""), value,
                     seen])  # fmt: skip
    name = f"{village}-irrigation-audit.csv"
    return Response("".join(csv_chunks(AUDIT_CSV, rows, bom=True)), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@router.post(
    "/villages/{village}/sites/{site}/irrigation/request",
    status_code=202,
    summary="ask the block's valve to open (确认灌溉): the collector checks every interlock before it sends",
    responses=errors(400, 404, 409, 503),
)
def request_watering(
    village: VillageId, site: SiteId, body: RequestIn, caller: CallerDep, state: StateDep
) -> RequestOut:
    s = site_of(caller, village, site)
    irr = s.irrigation
    if irr is None or not irr.valve:
        raise HTTPException(400, f"{s.name} 没有阀门控制器 / {site} has no valve controller")
    if irr.mode == "advice":
        raise HTTPException(409, f"{s.name} 只提供灌溉建议，不控制阀门 / {site} is in advice mode: no valve commands")
    w = book(state)
    now_ms = state.now_ms()
    r = ValveRequest(f"r-{uuid.uuid4().hex[:12]}", village, site, int(body.minutes * 60), body.reason,
                     caller.person.id, now_ms, body.fertigation_l, body.frost)  # fmt: skip
    refusal = refusal_now(w, caller.village, site, irr, r, now_ms)
    if refusal is not None:
        raise HTTPException(400, f"{refusal[0]} / {refusal[1]}")
    w.request(r)
    return RequestOut(id=r.id, site=site, minutes=body.minutes, state=r.state)


def refusal_now(
    w: WaterBook, village: Village, site: str, irr: Irrigation, r: ValveRequest, now_ms: int
) -> tuple[str, str] | None:
    """What the API can check at once (a lock, one opening's and the day's limits, the dose) as (zh, en);
    the collector checks the rest (pump, soil, rain) before it sends."""
    today = dt.datetime.fromtimestamp(now_ms / 1000, ZoneInfo(village.tz)).date().isoformat()
    watered = sum(x.minutes for x in w.irrigations(village.id, today) if x.site == site and x.day == today)
    now = Now(0, int(watered * 60), 0.0, None, False, w.locks(village.id).get(site), None)
    refusal = check(Request(site, r.duration_s, r.reason, r.by, r.frost, r.fertigation_l), irr, now)
    return None if refusal is None else (refusal.zh, refusal.en)


@router.post(
    "/villages/{village}/sites/{site}/irrigation/lock",
    status_code=201,
    summary="lock the block's line: no valve command until it is unlocked (someone is working on it)",
    responses=errors(404, 503),
)
def lock(village: VillageId, site: SiteId, body: LockIn, caller: CallerDep, state: StateDep) -> dict[str, str]:
    site_of(caller, village, site)
    book(state).lock(village, site, caller.person.id, body.reason, state.now_ms())
    return {"site": site, "locked_by": caller.person.id}


@router.delete(
    "/villages/{village}/sites/{site}/irrigation/lock",
    summary="unlock the block's line",
    responses=errors(404, 503),
)
def unlock(village: VillageId, site: SiteId, caller: CallerDep, state: StateDep) -> dict[str, str | None]:
    site_of(caller, village, site)
    book(state).unlock(village, site, caller.person.id, state.now_ms())
    return {"site": site, "locked_by": None}
