"""Alert episodes (active and past), acknowledgement, and silences."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import Caller, CallerDep, StateDep, require, village_of
from api.errors import errors
from api.params import SiteFilter, VillageId, When, Word
from api.schemas import EpisodeOut, SilenceIn, SilenceOut
from api.state import AlertAccess, ApiState
from api.timeparams import time_range
from qingyubiao.alerting import Audience, Episode, Silence, State

router = APIRouter(tags=["alerts"])
SecretaryOnly = require("secretary")


def alerts_of(state: ApiState) -> AlertAccess:
    if state.alerts is None:
        raise HTTPException(503, "告警服务未接入 / the alert store is not connected")
    return state.alerts


def firing_episodes(alerts: AlertAccess, village: str) -> list[Episode]:
    """The village's active alerts: fired and not ended. Pending episodes (a condition still waiting out its
    `for`) are not alerts yet: nobody was told, and most end before they fire. The alert list, the sites'
    `active_alerts`, the live stream and so the pages' counts all use this one set."""
    return [e for e in alerts.active_episodes(village) if e.state == State.FIRING]


def may_acknowledge(caller: Caller, e: Episode) -> bool:
    """Farmers (their own sites) and the secretary acknowledge; an admin only the device-health alerts they
    are paged for (docs/design.md: an acknowledgement stops the crop alert's escalation)."""
    return caller.role != "admin" or e.audience == Audience.MAINTAINER


def episode_out(e: Episode, caller: Caller) -> EpisodeOut:
    site = caller.village.site
    name = next((s.name for s in site if s.id == e.site), e.site)
    return EpisodeOut(
        id=e.id,
        rule=e.rule,
        kind=e.kind,
        severity=e.severity,
        audience=e.audience,
        village=e.village,
        site=e.site,
        site_name=name,
        device=e.device,
        metric=e.metric,
        state=e.state,
        started_ms=e.started_ms,
        fired_ms=e.fired_ms,
        ended_ms=e.ended_ms,
        late=e.late,
        value=None if e.value != e.value else e.value,
        text_zh=e.text_zh,
        text_en=e.text_en,
        ack_by=e.ack_by,
        ack_ms=e.ack_ms,
    )


@router.get(
    "/villages/{village}/alerts",
    summary="alert episodes of the visible sites, newest first",
    responses=errors(400, 404, 503),
)
def list_alerts(
    village: VillageId,
    caller: CallerDep,
    state: StateDep,
    status: Annotated[
        Literal["active", "pending", "past", "all"],
        Query(description="active: fired, not yet ended; pending: waiting out its duration, not yet fired"),
    ] = "active",
    site: SiteFilter = None,
    kind: Annotated[Word, Query(description="e.g. air_temp_high, frost, device_offline")] = None,
    severity: Annotated[Literal["warning", "critical", "emergency"] | None, Query()] = None,
    start: When = None,  # past alerts started after; default 30 days ago
    end: When = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[EpisodeOut]:
    village_of(caller, village)
    alerts = alerts_of(state)
    if site is not None and site not in caller.sites:
        raise HTTPException(404, f"没有这个棚/果园 / no site {site!r} in {village}")
    if status == "active":
        found = firing_episodes(alerts, village)
    elif status == "pending":
        found = [e for e in alerts.active_episodes(village) if e.state == State.PENDING]
    else:
        start_ms, end_ms = time_range(start, end, ZoneInfo(caller.village.tz), state.now_ms(), 30 * 86_400_000)
        found = [e for e in alerts.episodes(start_ms, end_ms, site) if e.village == village]
        if status == "past":
            found = [e for e in found if e.ended_ms is not None]
    chosen = [
        e
        for e in found
        if e.site in caller.sites
        and (site is None or e.site == site)
        and (kind is None or e.kind == kind)
        and (severity is None or e.severity == severity)
    ]
    chosen.sort(key=lambda e: e.started_ms, reverse=True)
    return [episode_out(e, caller) for e in chosen[:limit]]


@router.post(
    "/villages/{village}/alerts/{episode:path}/ack",
    summary="acknowledge an active alert: I am on it (farmers, the secretary; admins: device-health alerts)",
    responses=errors(403, 404, 409, 503),
)
def acknowledge(
    village: VillageId, episode: Annotated[str, Path(max_length=300)], caller: CallerDep, state: StateDep
) -> EpisodeOut:
    village_of(caller, village)
    alerts = alerts_of(state)
    found = next((e for e in alerts.active_episodes(village) if e.id == episode), None)
    if found is None or found.site not in caller.sites:
        raise HTTPException(404, f"没有这条进行中的告警 / no active alert {episode!r}")
    if not may_acknowledge(caller, found):
        raise HTTPException(
            403, "管理员只确认设备告警，作物告警由农户或书记确认 / admins acknowledge device-health alerts only"
        )
    if not alerts.acknowledge(episode, caller.person.id, state.now_ms()):
        raise HTTPException(409, "告警已结束 / the alert has ended")
    now = next((e for e in alerts.active_episodes(village) if e.id == episode), found)
    return episode_out(now, caller)


def silence_out(s: Silence, now_ms: int) -> SilenceOut:
    return SilenceOut(
        id=s.id,
        created_by=s.created_by,
        reason=s.reason,
        start_ms=s.start_ms,
        end_ms=s.end_ms,
        village=s.village,
        site=s.site,
        rule=s.rule,
        kind=s.kind,
        active=s.start_ms <= now_ms < s.end_ms,
    )


def silence_visible(s: Silence, caller: Caller) -> bool:
    """A silence of one of the caller's sites, or of the whole village (it silences the caller's sites too)."""
    return s.village in (None, caller.village.id) and (s.site is None or s.site in caller.sites)


@router.get(
    "/villages/{village}/silences",
    summary="silences of the caller's sites and of the whole village",
    responses=errors(404, 503),
)
def list_silences(
    village: VillageId, caller: CallerDep, state: StateDep, active: Annotated[bool, Query()] = False
) -> list[SilenceOut]:
    village_of(caller, village)
    now = state.now_ms()
    found = alerts_of(state).silences(now if active else None)
    return [silence_out(s, now) for s in found if silence_visible(s, caller)]


@router.post(
    "/villages/{village}/silences",
    status_code=201,
    summary="silence alerts for a while (secretary)",
    dependencies=[SecretaryOnly],
    responses=errors(403, 404, 503),
)
def create_silence(village: VillageId, body: SilenceIn, caller: CallerDep, state: StateDep) -> SilenceOut:
    village_of(caller, village)
    if body.site is not None and body.site not in caller.sites:
        raise HTTPException(404, f"没有这个棚/果园 / no site {body.site!r} in {village}")
    # an unknown rule would silence nothing; without the rules connected it cannot be checked
    if (
        body.rule is not None
        and state.rules is not None
        and not any(r.get("id") == body.rule for r in state.rules.rules())
    ):
        raise HTTPException(404, f"没有这条规则 / no rule {body.rule!r}")
    now = state.now_ms()
    s = Silence(
        id=uuid.uuid4().hex[:12],
        created_by=caller.person.id,
        reason=body.reason.strip(),
        start_ms=now,
        end_ms=now + int(body.duration_min * 60_000),
        village=village,
        site=body.site,
        rule=body.rule,
        kind=None if body.kind is None else body.kind.value,
    )
    alerts_of(state).save_silence(s)
    return silence_out(s, now)


@router.post(
    "/villages/{village}/silences/{silence}/expire",
    summary="end a silence now (secretary)",
    dependencies=[SecretaryOnly],
    responses=errors(403, 404, 503),
)
def expire_silence(
    village: VillageId, silence: Annotated[str, Path(max_length=64)], caller: CallerDep, state: StateDep
) -> SilenceOut:
    village_of(caller, village)
    alerts = alerts_of(state)
    found = next((s for s in alerts.silences() if s.id == silence and s.village in (None, village)), None)
    if found is None:
        raise HTTPException(404, f"没有这条静默 / no silence {silence!r}")
    now = state.now_ms()
    ended = Silence(**{f: getattr(found, f) for f in Silence.__slots__} | {"end_ms": min(found.end_ms, now)})
    alerts.save_silence(ended)
    return silence_out(ended, now)
