"""Disease and pest risks per site and day (computed by the collector's agronomy models), and biofixes.

A farmer sees and sets biofixes of their own sites (they empty the traps); the secretary of every site.
A biofix in the future or before 1 January is a 400 (degree-days count from this year's 1 January).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, StateDep, site_of, village_of
from api.errors import errors
from api.params import SiteId, VillageId
from api.state import ApiState
from qingyubiao.risks import (
    MODEL_NAMES,
    PESTS,
    RISK_NAMES,
    STAGE_MODEL,
    WATER_MODEL,
    Biofix,
    RiskBook,
    biofix_problem,
    irrigation_note,
    stage_note,
)
from qingyubiao.water import advised_minutes

router = APIRouter(tags=["risks"])

DATE = r"^\d{4}-\d{2}-\d{2}$"


class RiskOut(BaseModel):
    site: str
    site_name: str
    model: str
    model_zh: str
    model_en: str
    day: str
    risk: int = Field(description="-2 no data, -1 unknown, 0 none, 1 low, 2 moderate, 3 high")
    risk_zh: str
    risk_en: str
    detail: dict[str, Any]
    note_zh: str | None = Field(
        None, description="phenology and irrigation: the estimate or the advice in words (the numbers are in detail)"
    )
    note_en: str | None = None
    valve_mode: Literal["confirm", "automatic"] | None = Field(
        None, description="irrigation of a block with a valve: how it opens (advice-only blocks: null)"
    )
    valve_minutes: int | None = Field(
        None, description="irrigation: the opening the advice asks for now, minutes (0: none due today)"
    )


class BiofixIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pest: Literal[PESTS]  # type: ignore[valid-type]  # the tuple of pests the models know
    day: Annotated[str, Field(pattern=DATE, description="the first sustained trap catch, a village date")]


class BiofixOut(BaseModel):
    site: str
    pest: str
    day: str
    set_by: str
    set_ms: int


def book(state: ApiState) -> RiskBook:
    if state.risks is None:
        raise HTTPException(503, "病虫害模型未接入 / the disease and pest models are not connected")
    return state.risks


@router.get(
    "/villages/{village}/risks",
    summary="each visible site's disease and pest risk on one day (the newest computed day by default)",
    responses=errors(400, 404, 503),
)
def risks(
    village: VillageId,
    caller: CallerDep,
    state: StateDep,
    day: Annotated[str | None, Query(pattern=DATE, description="a village date, YYYY-MM-DD")] = None,
) -> list[RiskOut]:
    village_of(caller, village)
    out = []
    for r in book(state).risks(village, day):
        site = caller.sites.get(r.site)
        if site is None:  # another household's
            continue
        zh, en = MODEL_NAMES.get(r.model, (r.model, r.model))
        note: tuple[str | None, str | None] = (None, None)
        mode, minutes = None, None
        if r.model == STAGE_MODEL:
            note = stage_note(r.detail, site.stage)
        elif r.model == WATER_MODEL:
            note = irrigation_note(r.detail)
            irr = site.irrigation
            if irr is not None and irr.valve and irr.mode != "advice":
                mode, minutes = irr.mode, advised_minutes(r.detail, site)
        out.append(RiskOut(site=r.site, site_name=site.name, model=r.model, model_zh=zh, model_en=en, day=r.day,
                           risk=r.risk, risk_zh=RISK_NAMES[r.risk][0], risk_en=RISK_NAMES[r.risk][1],
                           detail=r.detail, note_zh=note[0], note_en=note[1], valve_mode=mode,
                           valve_minutes=minutes))  # fmt: skip
    return out


@router.get("/villages/{village}/biofix", summary="the biofixes of the visible sites", responses=errors(404, 503))
def biofixes(village: VillageId, caller: CallerDep, state: StateDep) -> list[BiofixOut]:
    village_of(caller, village)
    return [BiofixOut(site=b.site, pest=b.pest, day=b.day, set_by=b.set_by, set_ms=b.set_ms)
            for b in book(state).biofixes(village) if b.site in caller.sites]  # fmt: skip


@router.post(
    "/villages/{village}/sites/{site}/biofix",
    status_code=201,
    summary="set a pest's biofix at a site: degree-days count from that day (this year's)",
    responses=errors(400, 404, 503),
)
def set_biofix(village: VillageId, site: SiteId, body: BiofixIn, caller: CallerDep, state: StateDep) -> BiofixOut:
    site_of(caller, village, site)
    try:
        day = dt.date.fromisoformat(body.day)
    except ValueError:
        raise HTTPException(400, f"不是有效日期 / not a date: {body.day!r}") from None
    now_ms = state.now_ms()
    today = dt.datetime.fromtimestamp(now_ms / 1000, ZoneInfo(caller.village.tz)).date()
    problem = biofix_problem(day, today)
    if problem is not None:
        raise HTTPException(400, problem)
    b = Biofix(village, site, body.pest, day.isoformat(), caller.person.id, now_ms)
    book(state).set_biofix(b)
    return BiofixOut(site=site, pest=b.pest, day=b.day, set_by=b.set_by, set_ms=b.set_ms)
