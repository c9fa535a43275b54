"""Size limits on what a request may carry, checked before anything is read.

A body over `MAX_BODY_BYTES` is refused with 413: at once when its Content-Length says so, or as soon as
a chunked body crosses the limit (the route never sees it). A URL whose query string is over
`MAX_QUERY_BYTES` is refused with 414. Field-level limits (lengths of texts, numbers of items) are in the
request models and parameters.
"""

from __future__ import annotations

import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024  # the largest real body (a person with a few dozen sites) is under 2 KiB
MAX_QUERY_BYTES = 2048  # the longest real query (an export of every site of a village) is under 1 KiB

TOO_LARGE = f"请求体太大，最多 {MAX_BODY_BYTES // 1024} KB / request body too large: at most {MAX_BODY_BYTES} bytes"
TOO_LONG = f"网址太长，查询最多 {MAX_QUERY_BYTES} 字节 / query string too long: at most {MAX_QUERY_BYTES} bytes"


class RequestLimits:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            await _refuse(send, 414, TOO_LONG)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            await _refuse(send, 413, TOO_LARGE)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > MAX_BODY_BYTES:  # a chunked body has no Content-Length to refuse up front
                    raise HTTPException(413, TOO_LARGE)
            return message

        await self.app(scope, counted, send)


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
