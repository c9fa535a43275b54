"""The one shape of every error answer, `{"detail": "中文 / English"}`, and the OpenAPI entries that say so.

Routes list the statuses they can answer with `errors(...)`, so the document (and schemathesis, which checks
it in the tests) knows every answer the API gives. `detail` has exactly one " / ": Chinese before it,
English after, so a page can show either half.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    detail: str = Field(description="中文 / English, for a person to read")


class FieldError(BaseModel):
    where: str = Field(description="the parameter or body field, e.g. query.start or body.reason")
    problem: str = Field(description="what is wrong, in English")
    problem_zh: str = Field(description="what is wrong, in Chinese")


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


# Starlette's own refusals (unknown path, wrong method …) say only English: these say both
STANDARD: dict[int, tuple[str, str]] = {
    400: ("请求不对", "bad request"),
    401: ("需要有效的登录令牌", "a valid token is required"),
    403: ("没有权限", "forbidden"),
    404: ("没有这个地址", "not found"),
    405: ("不支持这个请求方法", "method not allowed"),
    406: ("无法提供这种格式", "not acceptable"),
    409: ("与现状冲突", "conflict"),
    410: ("已经过期", "gone"),
    413: ("请求体太大", "request body too large"),
    414: ("网址太长", "URL too long"),
    415: ("不支持这种请求格式", "unsupported media type"),
    422: ("请求参数不对", "invalid request"),
    429: ("请求太频繁", "too many requests"),
}


def bilingual(status: int, detail: object) -> str:
    """A detail in the one shape: ours already are; another's English becomes the English half."""
    text = str(detail)
    if text.count(" / ") == 1:
        return text
    zh, en = STANDARD.get(status, ("请求不对", "request refused"))
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
    if text in ("", phrase, en):  # Starlette's bare "Not Found" / "Method Not Allowed"
        return f"{zh} / {en}"
    return f"{zh} / {en}: {text.replace(' / ', '/')}"


# pydantic's error types (https://docs.pydantic.dev/latest/errors/validation_errors/) in Chinese
_PROBLEM_ZH: dict[str, str] = {
    "missing": "缺少这一项",
    "extra_forbidden": "不认识的字段",
    "string_type": "应为文本",
    "string_too_short": "太短：至少 {min_length} 个字符",
    "string_too_long": "太长：最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不对",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "finite_number": "应为有限的数字，不能是 NaN 或 Infinity",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应不大于 {le}",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "literal_error": "应为 {expected} 之一",
    "enum": "应为 {expected} 之一",
    "json_invalid": "不是有效的 JSON",
    "json_type": "应为 JSON",
    "model_type": "应为 JSON 对象",
    "model_attributes_type": "应为 JSON 对象",
    "dict_type": "应为 JSON 对象",
    "list_type": "应为列表",
    "tuple_type": "应为列表",
    "too_long": "太多：最多 {max_length} 项",
    "too_short": "太少：至少 {min_length} 项",
    "value_error": "值不对",
}
SHOWN = 3  # fields named in `detail`; `errors` lists up to 20


def _said(value: object) -> str:
    """A bound or a list of choices as Chinese text: 10080 rather than 10080.0, 'a'、'b' 或 'c'."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace(", ", "、").replace(" or ", " 或 ")


def _problem(e: Mapping[str, Any]) -> tuple[str, str]:
    """(中文, English) for one pydantic error; a message that is already "中文 / English" is split."""
    msg = str(e.get("msg", ""))[:200]
    if msg.count(" / ") == 1:
        zh, en = msg.split(" / ")
        return zh, en
    template = _PROBLEM_ZH.get(str(e.get("type", "")), "不符合要求")
    ctx = {k: _said(v) for k, v in (e.get("ctx") or {}).items()}
    try:
        zh = template.format(**ctx)
    except (KeyError, IndexError):  # a context pydantic did not give: say the problem without the number
        zh = template.split("：")[0].split(" {")[0]
    return zh[:200], msg.replace(" / ", "/")


def validation_error(errors: Sequence[Any]) -> dict[str, object]:
    """A 422 in the one error shape: `detail` names the wrong fields in Chinese and in English, `errors` lists
    them per field (`problem` in English, `problem_zh` in Chinese). The input is not echoed: a NaN in a body
    is not JSON, and a 50 MB field must not come back."""
    fields = []
    for e in errors[:20]:
        zh, en = _problem(e)
        where = ".".join(str(x) for x in e.get("loc", ())).replace(" / ", "/")[:100]
        fields.append({"where": where, "problem": en, "problem_zh": zh})
    shown, more = fields[:SHOWN], len(errors) - SHOWN
    said_zh = "；".join(f"{f['where']} {f['problem_zh']}" for f in shown) + (f"；另有 {more} 处" if more > 0 else "")
    said_en = "; ".join(f"{f['where']}: {f['problem']}" for f in shown) + (f"; {more} more" if more > 0 else "")
    return {"detail": f"请求参数不对：{said_zh} / invalid request: {said_en}", "errors": fields}
