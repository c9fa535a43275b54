"""Monthly summary per site for the village notice board (村务公开): time in alert, alerts, time to acknowledge.

"Hours outside the crop's range" is the time crop alerts (audience farmer) were
firing, with overlapping alerts of a site counted once: the alert core decides
what is out of range, the summary only adds up its verdicts.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from api.deps import CallerDep, StateDep, require, village_of
from api.errors import errors
from api.params import VillageId
from api.routes.alerts import alerts_of
from qingyubiao.alerting import Audience, Episode

router = APIRouter(tags=["summary"])


class SiteMonth(BaseModel):
    site: str
    name: str
    kind: str
    crop: str
    hours_out_of_range: float
    alerts: int
    critical: int
    acknowledged: int
    median_ack_min: float | None
    high_risk_days: int | None = Field(
        description="days at high disease or pest risk (any model); null when the models are not connected"
    )
    high_risk_by_model: dict[str, int] = Field(default_factory=dict, description="the same days per model")


class MonthSummary(BaseModel):
    village: str
    village_name: str
    month: str
    start_ms: int
    end_ms: int
    sites: list[SiteMonth]


def month_bounds(month: str, tz: ZoneInfo) -> tuple[int, int]:
    try:
        first = datetime.strptime(month, "%Y-%m").replace(tzinfo=tz)
    except ValueError:
        raise HTTPException(400, f"月份格式应为 2026-11 / month must look like 2026-11, got {month[:40]!r}") from None
    if not 2000 <= first.year <= 2100:  # 9999-12 has no next month, 0001-01 no timestamp: both were 500s
        raise HTTPException(400, f"月份超出范围 / month out of range: 2000-01 to 2100-12, got {month[:40]!r}")
    nxt = first.replace(year=first.year + (first.month == 12), month=first.month % 12 + 1)
    return int(first.timestamp() * 1000), int(nxt.timestamp() * 1000)


def hours_firing(episodes: list[Episode], start_ms: int, end_ms: int, now_ms: int) -> float:
    spans = sorted(
        (max(e.fired_ms, start_ms), min(e.ended_ms if e.ended_ms is not None else now_ms, end_ms))
        for e in episodes
        if e.fired_ms is not None and e.audience == Audience.FARMER
    )
    total, cur_start, cur_end = 0, None, None
    for a, b in spans:
        if b <= a:
            continue
        if cur_end is None or a > cur_end:
            total += (cur_end - cur_start) if cur_end is not None and cur_start is not None else 0
            cur_start, cur_end = a, b
        else:
            cur_end = max(cur_end, b)
    if cur_end is not None and cur_start is not None:
        total += cur_end - cur_start
    return round(total / 3_600_000, 1)


@router.get(
    "/villages/{village}/summary",
    summary="monthly summary per site (secretary, admin)",
    dependencies=[require("secretary", "admin")],
    responses=errors(403, 404, 503),
)
def month_summary(
    village: VillageId,
    caller: CallerDep,
    state: StateDep,
    month: Annotated[
        str | None,
        Query(
            pattern=r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$",
            description="2026-11 (2000-01 to 2100-12); default this month",
        ),
    ] = None,
) -> MonthSummary:
    v = village_of(caller, village)
    tz = ZoneInfo(v.tz)
    now = state.now_ms()
    month = month or datetime.fromtimestamp(now / 1000, tz).strftime("%Y-%m")
    start_ms, end_ms = month_bounds(month, tz)
    # every episode open during the month, however early it started (a frost alert left open since autumn)
    found = [e for e in alerts_of(state).episodes_overlapping(start_ms, end_ms) if e.village == village]
    last_day = datetime.fromtimestamp((end_ms - 1) / 1000, tz).date().isoformat()
    high = state.risks.high_days(village, f"{month}-01", last_day) if state.risks is not None else None
    out = []
    for s in v.site:
        mine = [e for e in found if e.site == s.id]
        fired = [e for e in mine if e.fired_ms is not None and start_ms <= e.fired_ms < end_ms]
        # acknowledged while still pending: on it before it fired, 0 minutes (not negative)
        acks = [
            max(0, e.ack_ms - e.fired_ms) / 60_000 for e in fired if e.ack_ms is not None and e.fired_ms is not None
        ]
        out.append(
            SiteMonth(
                site=s.id,
                name=s.name,
                kind=s.kind,
                crop=s.crop,
                hours_out_of_range=hours_firing(mine, start_ms, end_ms, now),
                alerts=len(fired),
                critical=sum(e.severity != "warning" for e in fired),
                acknowledged=len(acks),
                median_ack_min=round(statistics.median(acks), 1) if acks else None,
                high_risk_days=None if high is None else high.get(s.id, (0, {}))[0],
                high_risk_by_model={} if high is None else high.get(s.id, (0, {}))[1],
            )
        )
    return MonthSummary(village=v.id, village_name=v.name, month=month, start_ms=start_ms, end_ms=end_ms, sites=out)
