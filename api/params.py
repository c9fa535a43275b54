"""Path and query parameters shared by the routes, with the bounds the OpenAPI document states.

Every free-text parameter has a length limit and a pattern where the values have one, so a request the
document calls valid is one the routes accept; what a pattern cannot say (a 31 February, a range with its
start after its end) is a documented 400 with the reason.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from fastapi import Path, Query, Request
from fastapi.exceptions import RequestValidationError

from qingyubiao.catalogue import METRICS

API_PREFIX = "/api/v1"  # every route below it; the pages, /healthz, /metrics and ack links are at the root

SLUG = r"^[a-z0-9][a-z0-9_-]{0,62}$"  # ids of villages, sites, devices, people (qingyubiao.config.Slug)
# epoch ms, a date (village midnight), a date and time (RFC 3339 or without offset), or -24h / -7d / -30m
WHEN = (
    r"^(\d{1,13}|-\d{1,6}[mhd]|\d{4}-\d{2}-\d{2}"
    r"([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:\d{2})?)?)$"
)
# the catalogue's names; mypy cannot see members made from a non-literal
MetricName = StrEnum("MetricName", {m: m for m in METRICS})  # type: ignore[misc]
TEXT_MAX = 64  # ids, kinds, metric names, reasons of dead letters

VillageId = Annotated[str, Path(pattern=SLUG, description="village id, e.g. lijiahe")]
SiteId = Annotated[str, Path(pattern=SLUG, description="site id, e.g. gh03")]
PersonId = Annotated[str, Path(pattern=SLUG, description="person id")]
When = Annotated[
    str | None,
    Query(
        pattern=WHEN,
        max_length=40,
        description="epoch ms, 2026-11-01 (village midnight), an RFC 3339 time, or -24h / -7d / -30m",
    ),
]
# EventSource and download links cannot send headers: the stream and the CSV take the token in the query
AccessToken = Annotated[str | None, Query(max_length=200, description="the bearer token, for links and EventSource")]
SiteFilter = Annotated[str | None, Query(pattern=SLUG, description="only this site")]
Word = Annotated[str | None, Query(max_length=TEXT_MAX, pattern=r"^[a-z0-9_]+$")]


_CONVERTER = re.compile(r"\{(\w+):\w+\}")  # a route's `{episode:path}` is `{episode}` in the document


async def documented_query(request: Request) -> None:
    """Refuse query parameters the OpenAPI document does not list for the route: a typo (`?sit=gh03` for
    `?site=gh03`) would otherwise be dropped and the answer be about every site, silently."""
    known: dict[tuple[str, str], set[str]] | None = getattr(request.app.state, "documented_query", None)
    if known is None:  # once per app: the query parameters of each documented (path template, method)
        paths = request.app.openapi()["paths"]
        known = {
            (path, method.upper()): {q["name"] for q in op.get("parameters", []) if q["in"] == "query"}
            for path, ops in paths.items()
            for method, op in ops.items()
        }
        request.app.state.documented_query = known
    # the matched route's template is the document's path, less the prefix of the router that includes it
    template = _CONVERTER.sub(r"{\1}", getattr(request.scope.get("route"), "path", ""))  # {episode:path}
    allowed = known.get((template, request.method)) or known.get((API_PREFIX + template, request.method), set())
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise RequestValidationError(
            [{"loc": ("query", n), "msg": "不认识的参数 / unknown query parameter"} for n in unknown]
        )
