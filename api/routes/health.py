"""Health check and Prometheus metrics: no token, for load balancers and scrapers."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from api.deps import StateDep
from api.schemas import BoxOut, check_out
from qingyubiao.box import Check, worst


class HealthOut(BaseModel):
    status: str  # ok / error: the API and its store
    series: int | None = None
    detail: str | None = None
    box: BoxOut | None = None  # the box around it (`qyb status`): broker, collector, disk, backups...


def box_out(checks: list[Check]) -> BoxOut:
    return BoxOut(level=worst(checks), checks=[check_out(c) for c in checks])


router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    summary="is the API up and its store readable; `box`: the health of the box around it, as `qyb status`",
    responses={200: {"model": HealthOut}, 503: {"model": HealthOut, "description": "the store cannot be read"}},
)
def healthz(state: StateDep) -> JSONResponse:
    try:
        state.reader.latest([0] if len(state.index) else [])
    except Exception as e:
        return JSONResponse({"status": "error", "detail": f"store: {e}"}, status_code=503)
    box = box_out(state.box()).model_dump(mode="json") if state.box else None
    return JSONResponse({"status": "ok", "series": len(state.index), "box": box})


@router.get(
    "/metrics",
    summary="Prometheus metrics of the API process",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
