"""Per-app state: settings, the guard, metrics, the token verifier, readiness."""

from __future__ import annotations

import logging
import threading
from typing import Literal

import anyio
from fastapi import HTTPException
from ragguard import Guard, Keyring
from ragguard.stores import InMemoryStore

from ragguard_server.auth import TokenVerifier
from ragguard_server.metrics import Metrics
from ragguard_server.settings import ServerSettings

log = logging.getLogger("ragguard_server")

WARM_UP_SOURCE = "urn:ragguard:warm-up"

ModelStatus = Literal["pending", "loading", "ok", "failed"]


class ServerState:
    """Everything a request handler needs, held on ``app.state.ragguard`` (no globals).

    Args:
        settings: The server settings.
        guard: The guard, or None until the lifespan opens it.
        metrics: The app's metrics.
        verifier: The configured API tokens.
    """

    def __init__(
        self, settings: ServerSettings, guard: Guard | None, metrics: Metrics, verifier: TokenVerifier
    ) -> None:
        self.settings = settings
        self.guard = guard
        self.metrics = metrics
        self.verifier = verifier
        self.model_status: ModelStatus = "pending"
        self._write_lock: anyio.Lock | None = None
        self._warm_thread: threading.Thread | None = None

    def require_guard(self) -> Guard:
        """The guard, or 503 while the server is still starting."""
        if self.guard is None:
            raise HTTPException(status_code=503, detail="the server is still starting")
        return self.guard

    def write_lock(self) -> anyio.Lock:
        """The per-process lock that serialises store writes.

        Created on first use from the event loop, so it belongs to the loop
        that serves requests. It is an async lock rather than a thread lock so
        that queued writers wait on the loop instead of each holding a worker
        thread (which reads also need).
        """
        if self._write_lock is None:
            self._write_lock = anyio.Lock()
        return self._write_lock

    def start_warm_up(self) -> None:
        """Load and verify the model and the detectors in a background thread.

        In the background so ``/healthz`` answers while a model loads;
        ``/readyz`` reports ``loading`` until it is done.
        """
        guard = self.require_guard()
        self.model_status = "loading"

        def warm() -> None:
            try:
                _ = guard.embedder.weights_digest  # loads the weights and checks the pinned digest
                # One dry-run screening through the production path loads every
                # detector's own data too (classifier weights, rule sets), so a
                # broken detector shows as not ready instead of failing the first
                # ingest. It runs over a throwaway in-memory store sharing the
                # guard's embedder and detector instances: the real store is the
                # store check's business, and its errors must not read as a model
                # failure.
                twin = Guard(
                    InMemoryStore(),
                    guard.embedder,
                    settings=guard.settings,
                    keyring=Keyring.generate(),
                    detectors=guard.detectors,
                    policy=guard.policy,
                )
                twin.scan(["ragguard warm-up"], source=WARM_UP_SOURCE)
            except Exception as exc:  # reported by /readyz; requests will hit the same error
                self.model_status = "failed"
                log.error("model warm-up failed: %s: %s", type(exc).__name__, exc)
            else:
                self.model_status = "ok"

        self._warm_thread = threading.Thread(target=warm, name="ragguard-warm-up", daemon=True)
        self._warm_thread.start()

    def wait_warm(self, timeout: float | None = None) -> None:
        """Block until warm-up has finished (for tests and orderly shutdown)."""
        if self._warm_thread is not None:
            self._warm_thread.join(timeout)
