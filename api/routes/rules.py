"""Alert rules and crop profiles: read by everyone (a farmer sees those that can apply to their own sites, and
their own sites' overrides), per-site overrides edited by the secretary.

An edit is kept in the village's rules file at once; the running collector re-reads the file within 5 s (the
answer says so), which keeps the alert core's plan compiled in one place.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field, FiniteFloat

from api.deps import Caller, CallerDep, StateDep, require, site_of, village_of
from api.errors import errors
from api.params import SLUG, SiteId, VillageId
from api.state import ApiState, RuleBook

router = APIRouter(tags=["rules"])

DURATION = r"^\d{1,5}(\.\d{1,3})?[smhd]$"  # what the rules file reads: 90s, 30m, 2h, 1d
# nan or inf would compare false forever: the alert silently off
Threshold = FiniteFloat | tuple[FiniteFloat, FiniteFloat]


class OverrideIn(BaseModel):
    # a typo or an unsupported field would otherwise be dropped and an empty override written
    model_config = ConfigDict(extra="forbid")

    site: Annotated[str, Field(pattern=SLUG)]
    rule: Annotated[str, Field(max_length=64)]
    day: Threshold | None = None
    night: Threshold | None = None
    clear: Annotated[float | None, Field(ge=0, allow_inf_nan=False)] = None
    for_: Annotated[str | None, Field(alias="for", pattern=DURATION, description="e.g. 30m")] = None
    enabled: bool = True


def book(state: ApiState) -> RuleBook:
    if state.rules is None:
        raise HTTPException(503, "告警规则未接入 / the alert rules are not connected")
    return state.rules


def visible_rules(rules: list[dict[str, object]], caller: Caller) -> list[dict[str, object]]:
    """The rules that can apply to the caller's sites. A village rule scoped to sites or devices names only the
    caller's of them; one scoped to none of the caller's sites is left out (another household's business)."""
    if caller.role in ("secretary", "admin"):
        return rules
    mine = {d.id for d in caller.village.device if d.site in caller.sites}
    out = []
    for r in rules:
        scope = r.get("scope")
        if not isinstance(scope, dict):
            out.append(r)
            continue
        sites, devices = list(scope.get("site") or []), list(scope.get("device") or [])
        kept_sites, kept_devices = [x for x in sites if x in caller.sites], [x for x in devices if x in mine]
        if (sites and not kept_sites) or (devices and not kept_devices):
            continue
        out.append(r | {"scope": scope | {"site": kept_sites, "device": kept_devices}})
    return out


@router.get(
    "/villages/{village}/rules",
    summary="every alert rule (crop profiles and the village's own)",
    responses=errors(404, 503),
)
def rules(village: VillageId, caller: CallerDep, state: StateDep) -> list[dict[str, object]]:
    village_of(caller, village)
    return visible_rules(book(state).rules(), caller)


@router.get("/villages/{village}/profiles", summary="crop profiles: the rules of each crop", responses=errors(404, 503))
def profiles(village: VillageId, caller: CallerDep, state: StateDep) -> dict[str, list[dict[str, object]]]:
    village_of(caller, village)
    out: dict[str, list[dict[str, object]]] = {}
    for r in visible_rules(book(state).rules(), caller):
        scope = r.get("scope")
        crops = scope.get("crop") if isinstance(scope, dict) else None
        for crop in crops or ["*"]:  # "*": rules for every crop (device health, condensation …)
            out.setdefault(str(crop), []).append(r)
    return out


@router.get(
    "/villages/{village}/sites/{site}/rules", summary="the rules in force for one site", responses=errors(404, 503)
)
def site_rules(village: VillageId, site: SiteId, caller: CallerDep, state: StateDep) -> list[dict[str, object]]:
    site_of(caller, village, site)
    return book(state).in_force(village, site)


@router.get(
    "/villages/{village}/rules/overrides",
    summary="per-site overrides of the caller's sites (a farmer's own, every site for the secretary and admins)",
    responses=errors(404, 503),
)
def overrides(village: VillageId, caller: CallerDep, state: StateDep) -> list[dict[str, object]]:
    village_of(caller, village)
    return [o for o in book(state).overrides() if o.get("site") in caller.sites]


@router.put(
    "/villages/{village}/rules/overrides",
    summary="change a rule's numbers for one site (secretary)",
    dependencies=[require("secretary")],
    responses=errors(400, 403, 404, 409, 503),
)
def set_override(village: VillageId, body: OverrideIn, caller: CallerDep, state: StateDep) -> dict[str, object]:
    site_of(caller, village, body.site)
    b = book(state)
    if not any(r.get("id") == body.rule for r in b.rules()):
        raise HTTPException(404, f"没有这条规则 / no rule {body.rule!r}")
    try:
        kept = b.set_override(body.model_dump(by_alias=True, exclude_none=True))
    except PermissionError as e:
        raise HTTPException(409, str(e)) from None
    except ValueError as e:
        raise HTTPException(400, f"规则设置不对 / invalid override: {e}") from None
    return {"override": kept, "note": "5 秒内生效 / in force within 5 s (the collector's next maintenance pass)"}
