"""Shared test helpers (constants, settings, a live uvicorn) for the server tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from ragguard import Guard, Settings
from ragguard.testing import FlagDetector, InMemoryCollection, free_port, in_memory_collections

from ragguard_server import ServerSettings

TOKEN = "test-token-0123456789abcdef"
OTHER_TOKEN = "second-token-abcdefghijklmnop"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

SRC = "https://wiki.example/page"
QID_FAKE = "c-" + "0" * 32

#: Untrusted thresholds: quarantine at 0.5, reject at 0.9.
QUARANTINE_WORD = "quarantine-me"
REJECT_WORD = "reject-me"


def detectors() -> list[FlagDetector]:
    """Stand-in detectors: one quarantines, one rejects (for untrusted sources)."""
    return [
        FlagDetector(QUARANTINE_WORD, score=0.7, name="flag", code="RG-TEST-001"),
        FlagDetector(REJECT_WORD, score=0.95, name="flag-hard", code="RG-TEST-002"),
    ]


def server_settings(**overrides: object) -> ServerSettings:
    """Settings with one token (and a second, to check every token is accepted)."""
    values: dict[str, object] = {"api_tokens": [TOKEN, OTHER_TOKEN], "core": Settings()}
    values.update(overrides)
    return ServerSettings(**values)  # type: ignore[arg-type]


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn on a free loopback port, in a background thread."""
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(15)


def ingest(client: TestClient, records: list[Any], **extra: Any) -> dict[str, Any]:
    """POST records from ``SRC``; the response body (asserting 200)."""
    r = client.post("/v1/ingest", json={"records": records, "source": SRC, **extra}, headers=AUTH)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def quarantined_id(client: TestClient) -> str:
    """Ingest one record the stand-in detectors quarantine; its chunk id."""
    ingest(client, [{"id": "q", "text": f"please {QUARANTINE_WORD} now"}])
    entries = client.get("/v1/quarantine", headers=AUTH).json()["entries"]
    assert len(entries) == 1
    cid: str = entries[0]["id"]
    return cid


def served_of(guard: Guard) -> InMemoryCollection:
    """The guard's served collection (in memory)."""
    return in_memory_collections(guard)[0]


def quarantine_of(guard: Guard) -> InMemoryCollection:
    """The guard's quarantine collection (in memory)."""
    return in_memory_collections(guard)[1]
