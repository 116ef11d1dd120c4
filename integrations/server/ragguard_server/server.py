"""Run the sidecar under uvicorn: :func:`serve`."""

from __future__ import annotations

import logging

import uvicorn
from ragguard import Guard

from ragguard_server.app import create_app, preflight
from ragguard_server.settings import ServerConfigError, ServerSettings


def serve(settings: ServerSettings) -> None:
    """Check the settings, open the guard and serve until interrupted.

    Configuration problems are raised before the port is bound, as
    :class:`ragguard.ConfigurationError` subclasses with a one-line message.

    Args:
        settings: Server settings (host, port, tokens, limits, core settings).

    Raises:
        ServerConfigError: No token without ``unsafe_no_auth``, ``unsafe_no_auth``
            on a non-loopback host, or the server failed to start.
        ConfigurationError: The signing key is missing or malformed.
    """
    settings.check_startup()
    _configure_logging(settings.log_level)
    guard = Guard.open(settings=settings.core)
    preflight(guard)
    app = create_app(settings, guard=guard)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        lifespan="on",  # a failing startup stops the server instead of serving half-configured
        server_header=False,
        proxy_headers=False,  # the sidecar does not trust X-Forwarded-* from callers
    )
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        raise ServerConfigError(f"the server did not start on {settings.host}:{settings.port} (see the log above)")


def _configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Third-party clients log every request URL at INFO; keep the log about ragguard.
    for noisy in ("chromadb", "httpx", "httpcore", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
