"""Dependencies: the caller behind a bearer token, and what that caller may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.state import ApiState
from api.users import Refused, Session
from qingyubiao.config import Person, Site, Village

_bearer = HTTPBearer(auto_error=False, description="a token from `qyb users token`")


@dataclass(frozen=True, slots=True)
class Caller:
    village: Village
    person: Person
    sites: dict[str, Site]  # the sites this caller may see, by id
    session: Session  # the token it came with: renewed by the page, re-checked by the live stream

    @property
    def role(self) -> str:
        return self.person.role


# The dependencies are `async def`: FastAPI runs a plain `def` dependency in its threadpool, and three hops
# per request (state, caller, query check) cost more than the microseconds of work they do (docs/performance.md).
async def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


StateDep = Annotated[ApiState, Depends(get_state)]


def visible_sites(village: Village, person: Person) -> dict[str, Site]:
    """Farmers see their own sites; the secretary and admins the whole village."""
    sites = village.site if person.role in ("secretary", "admin") else village.sites_of(person)
    return {s.id: s for s in sites}


async def get_caller(
    request: Request, state: StateDep, cred: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    token = cred.credentials if cred else None
    # EventSource and download links cannot send headers: those two accept ?access_token=.
    if token is None and request.url.path.endswith(("/stream", ".csv")):
        token = request.query_params.get("access_token")
    if not token:
        raise HTTPException(401, "需要登录令牌 / a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    found = state.users.authenticate(token, state.now_ms())
    if isinstance(found, Refused):
        raise HTTPException(401, REFUSED[found], headers={"WWW-Authenticate": "Bearer"})
    village = state.config.village_by_id(found.village)
    return Caller(village, found.person, visible_sites(village, found.person), found)


REFUSED = {
    Refused.UNKNOWN: "令牌无效 / invalid token",
    Refused.REVOKED: "令牌已撤销 / this token was revoked",
    Refused.EXPIRED: "登录已过期，请向村里要新的登录链接 / this login has expired: ask the village for a new link",
}


CallerDep = Annotated[Caller, Depends(get_caller)]


def require(*roles: str):  # noqa: ANN201  (returns a dependency)
    async def check(caller: CallerDep) -> Caller:
        if caller.role not in roles:
            # one " / " in a detail, between the Chinese and the English
            raise HTTPException(403, f"需要角色 {' 或 '.join(roles)} / this needs the role {' or '.join(roles)}")
        return caller

    return Depends(check)


def village_of(caller: Caller, village: str) -> Village:
    """A caller sees only their own village; any other is 404 (its existence is not theirs to know)."""
    if village != caller.village.id:
        raise HTTPException(404, f"没有这个村 / no village {village!r}")
    return caller.village


def site_of(caller: Caller, village: str, site: str) -> Site:
    village_of(caller, village)
    found = caller.sites.get(site)
    if found is None:
        raise HTTPException(404, f"没有这个棚/果园 / no site {site!r} in {village}")
    return found
