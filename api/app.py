"""The FastAPI app factory: the composition root (`qyb api`, `qyb demo`) injects the stores."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.access_log import redact_access_log
from api.docs_page import add_docs_page
from api.errors import COMMON, bilingual, validation_error
from api.limits import RequestLimits
from api.params import API_PREFIX, documented_query
from api.routes import ack_link, confirm_link, devices, export, health, people, problems, sites, stream, summary
from api.routes import alerts as alert_routes
from api.routes import risks as risk_routes
from api.routes import rules as rule_routes
from api.routes import water as water_routes
from api.state import AlertAccess, ApiState, RuleBook
from api.users import UserStore
from qingyubiao import __version__
from qingyubiao.box import Check
from qingyubiao.config import Config
from qingyubiao.notifying import AckRefs, NotificationFeed
from qingyubiao.risks import RiskBook
from qingyubiao.series import SeriesIndex
from qingyubiao.store import DeviceStatus, IngestLog, ReadFailed, ReadingReader
from qingyubiao.water import WaterBook

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("qyb.api")


def create_app(
    config: Config,
    *,
    reader: ReadingReader,
    ingest_log: IngestLog,
    users: UserStore,
    alerts: AlertAccess | None = None,
    device_statuses: Callable[[], Sequence[DeviceStatus]] | None = None,
    rules: RuleBook | None = None,
    risks: RiskBook | None = None,
    water: WaterBook | None = None,
    index: SeriesIndex | None = None,
    stream_poll_s: float = 2.0,
    feed: NotificationFeed | None = None,
    ack_refs: AckRefs | None = None,
    ack_secret: str | None = None,
    box: Callable[[], list[Check]] | None = None,
) -> FastAPI:
    app = FastAPI(
        title="晴雨表 Qingyubiao API",
        version=__version__,
        description="温室与果园监测 · greenhouse and orchard monitoring. Bearer tokens from `qyb users token`.",
        docs_url=None,  # api/docs_page.py serves it without a CDN
        redoc_url=None,
        openapi_url=f"{API_PREFIX}/openapi.json",
    )
    app.state.api = ApiState(
        config=config,
        index=index or SeriesIndex(config),
        reader=reader,
        ingest_log=ingest_log,
        users=users,
        alerts=alerts,
        device_statuses=device_statuses,
        rules=rules,
        risks=risks,
        water=water,
        stream_poll_s=stream_poll_s,
        feed=feed,
        ack_refs=ack_refs,
        ack_secret=ack_secret,
        box=box,
    )
    _add_metrics(app)
    redact_access_log()  # whichever server runs the app: tokens in query strings and ack links stay out of logs
    # weak 4G: uPlot goes from 51 KB to ~23 KB; SSE is exempt. Level 1, not the default 9: a 7-day 5-minute
    # history (150 KB of JSON) compresses to 64 KB in 2.4 ms instead of 59 KB in 24 ms.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=1)
    app.add_middleware(RequestLimits)  # outermost: an oversized request is refused before anything reads it
    for r in (
        sites.router,
        devices.router,
        alert_routes.router,
        people.router,
        export.router,
        stream.router,
        summary.router,
        rule_routes.router,
        problems.router,
        risk_routes.router,
        water_routes.router,
    ):
        app.include_router(r, prefix=API_PREFIX, responses=COMMON, dependencies=[Depends(documented_query)])
    app.include_router(health.router)
    app.include_router(ack_link.router)  # at the root: the links in messages are {public_url}/a/{token}
    app.include_router(confirm_link.router)  # and {public_url}/w/{token} (确认灌溉)
    _add_pages(app)
    add_docs_page(app)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_error(exc.errors()), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def refused(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.detail == "There was an error parsing the body":  # FastAPI's for bytes that are not UTF-8 text
            problem = {"loc": ("body",), "type": "json_invalid", "msg": "not UTF-8 JSON"}
            return JSONResponse(validation_error([problem]), status_code=422)
        # ours already say "中文 / English"; Starlette's own (unknown path, wrong method) only say English
        detail = bilingual(exc.status_code, exc.detail)
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(ReadFailed)
    async def unreadable(request: Request, exc: ReadFailed) -> JSONResponse:
        # InfluxDB (deployment.store.read = influx) down or refusing: a passing outage, said as one
        log.error("the readings store could not be read on %s: %s", request.url.path, exc)
        return JSONResponse({"detail": "暂时无法读取数据 / the readings store cannot be read now"}, status_code=503)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse({"detail": "服务器内部错误 / internal error"}, status_code=500)

    return app


def _add_metrics(app: FastAPI) -> None:
    registry = CollectorRegistry()
    app.state.registry = registry
    requests = Counter("qyb_api_requests_total", "API requests", ["route", "status"], registry=registry)
    seconds = Histogram(
        "qyb_api_request_seconds",
        "API request latency",
        ["route"],
        registry=registry,
        buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    )
    outcomes = Counter("qyb_ack_link_total", "one-tap ack link answers by outcome", ["outcome"], registry=registry)
    for outcome in {*ack_link.OUTCOMES, *confirm_link.OUTCOMES}:
        outcomes.labels(outcome)  # every outcome exported from the start, at 0
    app.state.ack_link_outcomes = outcomes

    app.add_middleware(_Measure, requests=requests, seconds=seconds)


class _Measure:
    """Counts and times every HTTP request by route template. Pure ASGI: Starlette's BaseHTTPMiddleware
    (`@app.middleware("http")`) ends a streaming response cleanly when its body fails half-way, which turned a
    broken CSV export into a short file that looked complete."""

    def __init__(self, app: ASGIApp, requests: Counter, seconds: Histogram) -> None:
        self.app, self.requests, self.seconds = app, requests, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500  # unless the app says otherwise before it fails

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            name = getattr(scope.get("route"), "path", "other")  # the template, so label values stay few
            self.requests.labels(name, str(status)).inc()
            self.seconds.labels(name).observe(time.perf_counter() - t0)


def _add_pages(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    no_cache = {"Cache-Control": "no-cache"}

    @app.get("/", include_in_schema=False)
    def phone_page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=no_cache)

    @app.get("/overview", include_in_schema=False)
    def overview_page() -> FileResponse:
        return FileResponse(STATIC / "overview.html", headers=no_cache)

    @app.get("/sw.js", include_in_schema=False)
    def service_worker() -> FileResponse:
        # served from the root so its scope covers the phone page
        return FileResponse(STATIC / "sw.js", media_type="text/javascript", headers=no_cache)

    # where FastAPI apps usually have them: a newcomer (or a tool) trying /openapi.json or /docs finds the API's
    @app.api_route("/openapi.json", methods=["GET", "HEAD"], include_in_schema=False)
    def openapi_document() -> RedirectResponse:
        return RedirectResponse(f"{API_PREFIX}/openapi.json", status_code=308)

    @app.api_route("/docs", methods=["GET", "HEAD"], include_in_schema=False)
    def docs_page() -> RedirectResponse:
        return RedirectResponse(f"{API_PREFIX}/docs", status_code=308)

    @app.get("/manifest.webmanifest", include_in_schema=False)
    def manifest() -> FileResponse:
        return FileResponse(STATIC / "manifest.webmanifest", media_type="application/manifest+json")
