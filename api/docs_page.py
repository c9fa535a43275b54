"""The API's Swagger UI page, with Swagger UI's files served by the box itself.

FastAPI's own docs page loads Swagger UI from a CDN, so on a village box without the internet it was a blank
page. fastapi-swagger ships a current Swagger UI (5.x, which reads OpenAPI 3.1) as package data; we serve its
three files beside the page.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from api.params import API_PREFIX

DOCS = f"{API_PREFIX}/docs"
ASSETS = Path(str(files("fastapi_swagger") / "resources"))
MEDIA = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css", "favicon-32x32.png": "image/png"}
CACHE = {"Cache-Control": "public, max-age=86400"}  # 1.5 MB of script: fetched once a day, not per visit


def add_docs_page(app: FastAPI) -> None:
    """`{API_PREFIX}/docs` and its files; the app is created with `docs_url=None`."""

    @app.api_route(DOCS, methods=["GET", "HEAD"], include_in_schema=False)  # HEAD: curl -I, uptime checks
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")  # behind a proxy that mounts the API below a path
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or ""),
            title=f"{app.title} · API",
            swagger_js_url=f"{root}{DOCS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS}/favicon-32x32.png",
        )

    for name, media in MEDIA.items():
        app.add_api_route(
            f"{DOCS}/{name}", _asset(ASSETS / name, media), methods=["GET", "HEAD"], include_in_schema=False
        )


def _asset(path: Path, media: str) -> Callable[[], FileResponse]:
    def serve() -> FileResponse:
        return FileResponse(path, media_type=media, headers=CACHE)

    return serve
