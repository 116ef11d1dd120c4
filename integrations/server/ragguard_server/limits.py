"""Request body size limit, checked before and while the body is read."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragguard_server.asgi import send_json


class LimitExceeded(HTTPException):
    """A request is over one of the server's limits (413, with the limit named).

    Args:
        detail: What was too large and which setting bounds it.
        code: Machine-readable error code.
    """

    def __init__(self, detail: str, code: str = "limit_exceeded") -> None:
        super().__init__(status_code=413, detail=detail)
        self.code = code


def body_too_large(limit: int) -> LimitExceeded:
    """The error for a body over ``limit`` bytes."""
    return LimitExceeded(
        f"request body is larger than {limit} bytes (the server's max_body_bytes, RAGGUARD_MAX_BODY_BYTES)",
        code="body_too_large",
    )


class BodyLimitMiddleware:
    """Answer 413 for bodies over ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused before anything is
    read. The count is also enforced while reading, because chunked requests
    carry no length and a client can send more than it declared. The error is
    raised from ``receive``; FastAPI re-raises HTTP exceptions from body
    parsing, so the app's handler renders it, and this middleware renders it
    itself if it escapes before a response has started.

    Args:
        app: The wrapped ASGI app.
        max_bytes: Largest accepted body.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count bytes as they are received."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                await send_json(send, 400, {"detail": "invalid Content-Length header", "code": "bad_request"})
                return
            if length > self.max_bytes:
                exc = body_too_large(self.max_bytes)
                await send_json(send, 413, {"detail": exc.detail, "code": exc.code})
                return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise body_too_large(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except LimitExceeded as exc:
            if started:
                raise
            await send_json(send, exc.status_code, {"detail": exc.detail, "code": exc.code})
