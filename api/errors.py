"""The one shape of every error answer, `{"detail": "中文 / English"}`, and the OpenAPI entries that say so.

Routes list the statuses they can answer with `errors(...)`, so the document (and schemathesis, which checks
it in the tests) knows every answer the API gives.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    detail: str = Field(description="中文 / English, for a person to read")


class FieldError(BaseModel):
    where: str = Field(description="the parameter or body field, e.g. query.start or body.reason")
    problem: str


class ValidationErrorOut(ErrorOut):
    errors: list[FieldError] = Field(description="each field that is wrong")


_WHY = {
    400: "请求不对 / a bad request (the detail says what)",
    401: "需要有效的登录令牌 / no token, or an unknown, revoked or expired one",
    403: "角色不够 / the caller's role may not do this",
    404: "没有这个村、棚或对象，或调用者看不到 / not found, or not visible to the caller",
    409: "与现状冲突 / conflicts with the current state",
    410: "链接已过期 / the link has expired",
    413: "请求体太大 / the request body is too large",
    414: "网址太长 / the URL or its query string is too long",
    422: "参数或请求体不符合要求 / a parameter or the body is invalid",
    503: "所需的服务未接入 / a store this route needs is not connected",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, each with the error body."""
    return {c: {"model": ValidationErrorOut if c == 422 else ErrorOut, "description": _WHY[c]} for c in codes}


# every /api/v1 route: a token, a body or query that may be refused, a size limit
COMMON = errors(401, 413, 414, 422)
