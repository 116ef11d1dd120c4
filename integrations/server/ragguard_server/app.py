"""The FastAPI app: :func:`create_app`, its lifespan and the operational routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from ragguard import Guard

from ragguard_server.auth import BearerAuthMiddleware, TokenVerifier
from ragguard_server.errors import install_error_handlers
from ragguard_server.limits import BodyLimitMiddleware
from ragguard_server.metrics import Metrics, RequestMetricsMiddleware
from ragguard_server.routes import router as v1_router
from ragguard_server.schemas import HealthResponse, ReadyResponse
from ragguard_server.settings import ServerSettings
from ragguard_server.state import ServerState

log = logging.getLogger("ragguard_server")

#: How long /readyz waits for the store before calling it unreachable.
STORE_CHECK_TIMEOUT_S = 5.0

ops = APIRouter(tags=["operations"])


def preflight(guard: Guard) -> None:
    """Fail at startup, not on the first request, when the signing key is set up wrongly.

    A key file, a shared secret or a Chroma server (which needs one of them)
    must resolve now. An embedded store without either is fine: its key file
    is generated on the first ingest.

    Raises:
        ConfigurationError: Naming what to set (never key material).
    """
    core = guard.settings
    if core.chroma_url or core.key_file is not None or core.signing_key is not None:
        guard.keyring()


def create_app(settings: ServerSettings, guard: Guard | None = None) -> FastAPI:
    """Build the sidecar app.

    Args:
        settings: Server settings, including the core ``ragguard.Settings``.
        guard: A ready guard (tests, embedding apps). When None, the lifespan
            opens one with ``Guard.open(settings=settings.core)`` and checks its
            key set-up.

    Returns:
        The app; the model loads in the background once it starts.

    Raises:
        ServerConfigError: No API token without ``unsafe_no_auth``, or
            ``unsafe_no_auth`` on a non-loopback host.
    """
    settings.check_startup()
    if not settings.auth_enabled:
        log.warning("serving /v1 WITHOUT authentication (unsafe_no_auth on %s)", settings.host)
    state = ServerState(settings, guard, Metrics(), TokenVerifier(settings.api_tokens))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.guard is None:
            opened = Guard.open(settings=settings.core)  # no I/O: the store and model open lazily
            await anyio.to_thread.run_sync(preflight, opened)
            state.guard = opened
        state.write_lock()  # bind the lock to the serving loop
        state.start_warm_up()
        yield

    from ragguard import __version__

    app = FastAPI(
        title="ragguard",
        version=__version__,
        summary="Integrity guard for the knowledge base behind RAG: screen, seal, store, retrieve through the filter.",
        description="Every `/v1` route requires `Authorization: Bearer <token>` (tokens from `RAGGUARD_API_TOKENS`).",
        lifespan=lifespan,
        redoc_url=None,
    )
    app.state.ragguard = state
    install_error_handlers(app)
    app.include_router(v1_router)
    app.include_router(ops)
    # add_middleware wraps: the last added runs first. Metrics see every
    # response, auth answers before any body is read, then the body limit.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(BearerAuthMiddleware, verifier=state.verifier)
    # The routers' own route lists (not app.router.routes, where FastAPI may
    # nest included routers) name requests answered before routing.
    app.add_middleware(RequestMetricsMiddleware, metrics=state.metrics, routes=[*v1_router.routes, *ops.routes])
    return app


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.ragguard
    return state


@ops.get("/healthz", summary="Liveness")
async def healthz() -> HealthResponse:
    """200 while the process serves requests. Says nothing else."""
    return HealthResponse()


@ops.get("/readyz", summary="Readiness", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}})
async def readyz(request: Request) -> JSONResponse:
    """200 when the model is loaded and verified and the store answers; 503 otherwise.

    Each check reports one word (``ok``, ``loading``, ``failed``,
    ``unreachable``...), never paths, hosts or errors.
    """
    state = _state(request)
    checks: dict[str, str] = {"model": state.model_status}
    guard = state.guard
    if guard is None:
        checks["store"] = "not_started"
    else:
        try:
            with anyio.fail_after(STORE_CHECK_TIMEOUT_S):
                await anyio.to_thread.run_sync(
                    guard.store.has_collection, guard.collection_name, abandon_on_cancel=True
                )
            checks["store"] = "ok"
        except TimeoutError:
            checks["store"] = "timeout"
        except Exception as exc:  # any failure to answer is "unreachable"; details go to the log only
            log.warning("readiness: store check failed: %s", type(exc).__name__)
            checks["store"] = "unreachable"
    ready = all(v == "ok" for v in checks.values())
    body = ReadyResponse(ready=ready, checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@ops.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition: counts and latencies only, no chunk data."""
    payload, content_type = _state(request).metrics.render()
    return Response(payload, media_type=content_type)
