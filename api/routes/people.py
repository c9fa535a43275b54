"""People (read: secretary and admin; add: secretary) and their tokens (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request

from api.deps import CallerDep, StateDep, require, village_of
from api.errors import errors
from api.params import PersonId, VillageId
from api.schemas import NewTokenOut, PersonOut, RenewedOut, TokenOut
from api.users import PersonExists
from qingyubiao.config import Person

router = APIRouter(tags=["people"])


def person_out(p: Person) -> PersonOut:
    return PersonOut(
        id=p.id, name=p.name, phone=p.phone, role=p.role, household=p.household, sites=p.sites, watch=p.watch
    )


@router.get(
    "/villages/{village}/people",
    summary="people of the village",
    dependencies=[require("secretary", "admin")],
    responses=errors(403, 404),
)
def people(village: VillageId, caller: CallerDep, state: StateDep) -> list[PersonOut]:
    village_of(caller, village)
    return [person_out(p) for p in state.users.people(village)]


@router.post(
    "/villages/{village}/people",
    status_code=201,
    summary="add a person (secretary); an existing id is a 409",
    dependencies=[require("secretary")],
    responses=errors(403, 404, 409),
)
def add_person(village: VillageId, body: Person, caller: CallerDep, state: StateDep) -> PersonOut:
    village_of(caller, village)
    if body.role == "admin":
        raise HTTPException(403, "管理员只能用 qyb users 添加 / admins are added with `qyb users add` only")
    try:
        state.users.add_person(village, body)
    except PersonExists as e:  # a typo must not strip a farmer's sites or replace the admin
        raise HTTPException(409, str(e)) from None
    except ValueError as e:  # a site or household the village does not have
        raise HTTPException(404, f"添加不了 / cannot add this person: {e}") from None
    return person_out(body)


@router.get(
    "/villages/{village}/tokens",
    summary="tokens of the village, by hash prefix (admin)",
    dependencies=[require("admin")],
    responses=errors(403, 404),
)
def tokens(village: VillageId, caller: CallerDep, state: StateDep) -> list[TokenOut]:
    village_of(caller, village)
    return [
        TokenOut(
            hash_prefix=t.hash_prefix,
            person=t.person,
            label=t.label,
            created_ms=t.created_ms,
            revoked_ms=t.revoked_ms,
            expires_ms=t.expires_ms,
        )
        for t in state.users.tokens(village)
    ]


@router.post(
    "/villages/{village}/people/{person}/tokens",
    status_code=201,
    summary="issue a token (admin)",
    dependencies=[require("admin")],
    responses=errors(403, 404),
)
def issue_token(
    village: VillageId, person: PersonId, request: Request, caller: CallerDep, state: StateDep
) -> NewTokenOut:
    village_of(caller, village)
    if state.users.person(village, person) is None:
        raise HTTPException(404, f"没有这个人 / no person {person!r} in {village}")
    now = state.now_ms()
    token = state.users.issue(village, person, label=f"issued by {caller.person.id}", now=now)
    url = f"{str(request.base_url).rstrip('/')}/#token={token}"
    return NewTokenOut(person=person, token=token, login_url=url, expires_ms=now + state.users.ttl_ms)


@router.post("/me/renew", summary="another full lifetime for the caller's token (the pages do this when opened)")
def renew(caller: CallerDep, state: StateDep) -> RenewedOut:
    return RenewedOut(expires_ms=state.users.renew(caller.session, state.now_ms()))


@router.delete(
    "/villages/{village}/tokens/{hash_prefix}",
    summary="revoke a token (admin)",
    dependencies=[require("admin")],
    responses=errors(403, 404),
)
def revoke_token(
    village: VillageId,
    hash_prefix: Annotated[str, Path(pattern=r"^[0-9a-fA-F]{8,64}$", description="as `qyb users list` shows it")],
    caller: CallerDep,
    state: StateDep,
) -> dict[str, int]:
    village_of(caller, village)
    if not any(t.hash_prefix.startswith(hash_prefix.lower()[:12]) for t in state.users.tokens(village)):
        raise HTTPException(404, f"没有这个令牌 / no token with hash {hash_prefix!r}")
    return {"revoked": state.users.revoke(hash_prefix)}
