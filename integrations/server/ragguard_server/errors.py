"""Map errors to JSON responses: ``{"detail": ..., "code": ...}``.

Client mistakes get 4xx and a message that names the record or limit. Server
trouble (store down, bad key set-up, model integrity) gets a 5xx whose body
says only what kind of trouble; the specifics go to the server log, because
they name paths and hosts and are of no use to a client. Tokens and keys never
reach a message: ragguard's errors never carry key material, and request
validation errors are returned without the input they rejected.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from ragguard import (
    ConfigurationError,
    InputError,
    IntegrityError,
    ModelIntegrityError,
    NotFoundError,
    RagguardError,
    StoreError,
)
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("ragguard_server")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "limit_exceeded",
    415: "unsupported_media_type",
    422: "invalid_request",
    503: "unavailable",
}


def error_response(status: int, detail: object, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON error response."""
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = getattr(exc, "code", None) or _CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, exc.detail, code, dict(exc.headers) if exc.headers else None)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # FastAPI's default body echoes each rejected input (a whole record text);
    # keep only where and what.
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
    return error_response(422, errors, "invalid_request")


async def _ragguard_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RagguardError)
    route = request.url.path
    if isinstance(exc, InputError):
        return error_response(422, str(exc), "invalid_input")
    if isinstance(exc, NotFoundError):
        return error_response(404, str(exc), "not_found")
    if isinstance(exc, ModelIntegrityError):  # before IntegrityError: the server's model, not the client's data
        log.error("%s: embedding model integrity check failed: %s", route, exc)
        return error_response(
            503, "the embedding model failed its integrity check; see the server log", "model_integrity"
        )
    if isinstance(exc, IntegrityError):
        return error_response(409, str(exc), "integrity_error")
    if isinstance(exc, StoreError):
        log.error("%s: store error: %s", route, exc)
        return error_response(503, "the vector store is unavailable; see the server log", "store_unavailable")
    if isinstance(exc, ConfigurationError):
        log.error("%s: configuration error: %s", route, exc)
        return error_response(503, "the server is misconfigured; see the server log", "misconfigured")
    log.error("%s: %s: %s", route, type(exc).__name__, exc)
    return error_response(500, "internal error; see the server log", "internal")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Type only: a third-party message may quote request data.
    log.error("%s: unexpected %s", request.url.path, type(exc).__name__, exc_info=exc)
    return error_response(500, "internal error; see the server log", "internal")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(RagguardError, _ragguard_error)
    app.add_exception_handler(Exception, _unexpected)
