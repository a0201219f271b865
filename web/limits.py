"""A cap on request bodies: anything over `MAX_REQUEST_BYTES` is refused with 413 before the app sees it.

A declared Content-Length over the cap is refused without reading a byte; a chunked body is read
up to the cap and refused the moment it passes it (so no request can make the app buffer more).
Every refusal is a denial event in the exchange log (`web.refusals`). The verification routes
(`/api/verify/...`) bound their bodies themselves and log the refusal with the client's identity.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.problems import PROBLEM_MEDIA_TYPE, problem_document
from web.refusals import claimed_department, log_refusal

__all__ = ["MAX_REQUEST_BYTES", "BodyLimit"]

MAX_REQUEST_BYTES = 1024 * 1024
_EXEMPT = ("/api/verify/",)


class BodyLimit:
    """ASGI middleware refusing request bodies over `max_bytes` with 413 (JSON, bilingual)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_EXEMPT):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(scope, send)
            return
        chunks, size, message = [], 0, None
        while True:  # read the (small) body now: the app would read it anyway
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._refuse(scope, send)
                return
            if not message.get("more_body", False):
                break
        replay: list[Message] = [message] if message["type"] != "http.request" else []
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}, *replay]

        async def replayed() -> Message:
            return replay.pop(0) if replay else await receive()

        await self.app(scope, replayed, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        detail: dict[str, Any] = {
            "code": "too_large",
            "message": f"the request body exceeds {self.max_bytes} bytes: split it into smaller requests",
            "message_zh": f"请求体超过 {self.max_bytes} 字节上限：请拆分为较小的请求",
        }
        claimed = claimed_department(dict(scope["headers"]).get(b"x-api-key", b"").decode("latin-1"))
        await run_in_threadpool(
            log_refusal,
            scope["app"],
            method=scope["method"],
            path=scope["path"],
            status=413,
            code="too_large",
            claimed=claimed,
        )
        document = problem_document(413, detail, scope["path"])
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        headers = [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": [*headers, (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
