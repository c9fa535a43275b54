"""Villages, sites, latest readings with status, and history per metric."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

import msgspec
from fastapi import APIRouter, HTTPException, Query, Response

from api.deps import CallerDep, StateDep, site_of, village_of
from api.errors import errors
from api.params import MetricName, SiteId, VillageId, When
from api.schemas import HistoryOut, MeOut, MetricOut, SiteOut, VillageOut
from api.state import ApiState
from api.status import MetricReading, derived_vpd, firing_by_site, site_readings, site_status
from api.timeparams import MAX_RANGE_MS, pick_step, time_range
from qingyubiao.alerting import Episode
from qingyubiao.catalogue import METRICS
from qingyubiao.config import Site

router = APIRouter(tags=["sites"])
_json = msgspec.json.Encoder()


def metric_out(r: MetricReading) -> MetricOut:
    m = METRICS[r.metric]
    return MetricOut(
        metric=r.metric,
        label_zh=m.zh,
        label_en=m.en,
        unit=m.unit,
        device=r.device,
        ts_ms=r.ts_ms,
        value=r.value,
        status=r.status,
    )


def site_out(state: ApiState, village: str, site: Site, firing: list[Episode], active: int) -> SiteOut:
    readings = site_readings(state, village, site, firing)
    stamps = [r.ts_ms for r in readings if r.ts_ms is not None]
    return SiteOut(
        id=site.id,
        name=site.name,
        kind=site.kind,
        crop=site.crop,
        stage=site.stage,
        owner=site.owner,
        status=site_status(readings, firing),
        updated_ms=max(stamps, default=None),
        vpd_kpa=derived_vpd(readings),
        active_alerts=active,
        readings=[metric_out(r) for r in readings],
    )


def active_counts(state: ApiState, village: str) -> dict[str, int]:
    """Active alerts per site: the fired ones, as `GET alerts?status=active` lists them (pending ones are not
    alerts yet; counting them made the sites' numbers and the overview's disagree with the list)."""
    return {site: len(found) for site, found in firing_by_site(state, village).items()}


@router.get("/me", summary="who the token belongs to and which sites they see")
def me(caller: CallerDep) -> MeOut:
    p = caller.person
    return MeOut(
        id=p.id,
        name=p.name,
        role=p.role,
        village=caller.village.id,
        village_name=caller.village.name,
        sites=list(caller.sites),
        token_expires_ms=caller.session.expires_ms,
    )


@router.get("/villages", summary="the villages the caller belongs to")
def villages(caller: CallerDep) -> list[VillageOut]:
    v = caller.village
    return [VillageOut(id=v.id, name=v.name, lat=v.lat, lon=v.lon, tz=v.tz, sites=len(caller.sites))]


@router.get(
    "/villages/{village}/sites", summary="visible sites with their latest readings and status", responses=errors(404)
)
def sites(village: VillageId, caller: CallerDep, state: StateDep) -> list[SiteOut]:
    village_of(caller, village)
    firing = firing_by_site(state, village)
    counts = active_counts(state, village)
    return [site_out(state, village, s, firing.get(s.id, []), counts.get(s.id, 0)) for s in caller.sites.values()]


@router.get(
    "/villages/{village}/sites/{site}", summary="one site with its latest readings and status", responses=errors(404)
)
def site(village: VillageId, site: SiteId, caller: CallerDep, state: StateDep) -> SiteOut:
    s = site_of(caller, village, site)
    firing = firing_by_site(state, village).get(site, [])
    return site_out(state, village, s, firing, active_counts(state, village).get(site, 0))


@router.get(
    "/villages/{village}/sites/{site}/latest", summary="latest reading per metric with status", responses=errors(404)
)
async def latest(village: VillageId, site: SiteId, caller: CallerDep, state: StateDep) -> list[MetricOut]:
    # async: a few rows from memory-mapped SQLite (~0.2 ms) cost less on the event loop than a threadpool hop
    s = site_of(caller, village, site)
    firing = firing_by_site(state, village).get(site, [])
    return [metric_out(r) for r in site_readings(state, village, s, firing)]


@router.get(
    "/villages/{village}/sites/{site}/history",
    summary="one metric over a range, per step",
    response_model=HistoryOut,
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}, **errors(400, 404)},
)
def history(  # a plain def, in the threadpool: inline on the event loop it made `latest` wait (performance.md)
    village: VillageId,
    site: SiteId,
    caller: CallerDep,
    state: StateDep,
    metric: Annotated[MetricName, Query(description="metric name from the catalogue, e.g. air_temp_c")],
    start: When = None,  # default 24 h before the end
    end: When = None,  # default now
    step_ms: Annotated[
        int | None, Query(ge=1_000, le=MAX_RANGE_MS, description="bucket width; default: about 500 points")
    ] = None,
) -> Response:
    s = site_of(caller, village, site)
    start_ms, end_ms = time_range(start, end, ZoneInfo(caller.village.tz), state.now_ms())
    step = pick_step(start_ms, end_ms, step_ms)
    start_ms -= start_ms % step  # whole buckets, so the store can answer from its rollups
    series = [i for i in state.site_series.get((village, s.id), []) if state.index.keys[i].metric == metric]
    if not series:
        raise HTTPException(404, f"这里没有测 {metric} / site {site} does not measure {metric!r}")
    h = state.reader.history(series[0], start_ms, end_ms, step)
    points = list(
        zip(h.bucket_ms.tolist(), h.vmean.tolist(), h.vmin.tolist(), h.vmax.tolist(), h.count.tolist(), strict=True)
    )
    # Encoded here, in the shape of HistoryOut: validating thousands of point tuples through pydantic
    # cost more than the query (5-minute steps over 7 days: p99 132 ms -> see docs/performance.md).
    body = {
        "site": site,
        "metric": metric,
        "unit": METRICS[metric].unit,
        "start_ms": start_ms,
        "end_ms": end_ms,
        "step_ms": step,
        "points": points,
    }
    return Response(_json.encode(body), media_type="application/json")
