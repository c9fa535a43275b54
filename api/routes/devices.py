"""Devices with last seen, battery and signal; the unknown-device quarantine and dead letters (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CallerDep, StateDep, require, village_of
from api.errors import errors
from api.params import VillageId
from api.schemas import DeadLetterOut, DeadLettersOut, DeviceOut, UnknownDeviceOut
from api.state import ApiState
from api.status import STALE_INTERVALS
from qingyubiao.catalogue import HEALTH_METRICS
from qingyubiao.rejects import Reason

router = APIRouter(tags=["devices"])
AdminOnly = require("admin")

LOW_BATTERY_V = 3.2  # a 3.6 V lithium (Li-SOCl2) sensor cell this low is near its end: weeks, not months


def devices_of(state: ApiState, village: str, site_ids: set[str]) -> list[DeviceOut]:
    v = state.config.village_by_id(village)
    statuses = {(vid, d): (online, ts) for vid, d, online, ts in (state.device_statuses or list)()}
    now = state.now_ms()
    out = []
    for d in v.device:
        if d.site not in site_ids:
            continue
        series = [state.index.find(village, d.id, m) for m in (*d.metrics, *HEALTH_METRICS)]
        latest = state.reader.latest([s for s in series if s is not None])
        ts = int(latest.ts_ms[: len(d.metrics)].max())
        health = dict(zip(HEALTH_METRICS, latest.value[len(d.metrics) :].tolist(), strict=True))
        health = {k: (None if x != x else x) for k, x in health.items()}  # NaN: never reported
        online = statuses.get((village, d.id), (None, 0))[0]
        if ts < 0:
            status = "unknown"
        elif online is False:
            status = "offline"
        elif now - ts > STALE_INTERVALS * d.interval_s * 1000:
            status = "stale"
        elif health["bat_v"] is not None and health["bat_v"] < LOW_BATTERY_V:
            status = "low_battery"
        else:
            status = "ok"
        out.append(
            DeviceOut(
                id=d.id,
                site=d.site,
                metrics=list(d.metrics),
                interval_s=d.interval_s,
                last_seen_ms=ts if ts >= 0 else None,
                online=online,
                battery_v=health["bat_v"],
                rssi_dbm=health["rssi_dbm"],
                snr_db=health["snr_db"],
                status=status,
            )
        )
    return out


@router.get(
    "/villages/{village}/devices",
    summary="devices of the visible sites: last seen, battery, signal",
    responses=errors(404),
)
def devices(village: VillageId, caller: CallerDep, state: StateDep) -> list[DeviceOut]:
    village_of(caller, village)
    return devices_of(state, village, set(caller.sites))


@router.get(
    "/villages/{village}/quarantine",
    summary="devices that report but are not configured (admin)",
    dependencies=[AdminOnly],
    responses=errors(403, 404),
)
def quarantine(village: VillageId, caller: CallerDep, state: StateDep) -> list[UnknownDeviceOut]:
    village_of(caller, village)
    return [
        UnknownDeviceOut(
            village=u.village, device=u.device, topic=u.topic, first_ms=u.first_ms, last_ms=u.last_ms, count=u.count
        )
        for u in state.ingest_log.unknown_devices()
        if u.village == village
    ]


@router.get(
    "/deadletters",
    summary="rejected payloads and the counts per reason (admin)",
    dependencies=[AdminOnly],
    responses=errors(403),
)
def dead_letters(
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    reason: Annotated[Reason | None, Query(description="only this reason, e.g. malformed_json")] = None,
) -> DeadLettersOut:
    letters = [
        DeadLetterOut(
            received_ms=r.received_ms,
            reason=r.reason.value,
            topic=r.topic,
            village=r.village,
            device=r.device,
            detail=r.detail,
            payload=r.payload[:2048].decode("utf-8", "replace"),
        )
        for r in state.ingest_log.dead_letters(limit, None if reason is None else reason.value)
    ]
    return DeadLettersOut(counts=state.ingest_log.rejection_counts(), letters=letters)
