"""Fixtures: an injected in-memory guard for fast tests; uvicorn and Chroma for live ones."""

from __future__ import annotations

import os

# The real model is loaded offline; never reach for a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from ragguard import Guard, testing  # noqa: E402
from ragguard.testing import make_guard  # noqa: E402
from server_helpers import detectors, server_settings  # noqa: E402

from ragguard_server import create_app  # noqa: E402


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read RAGGUARD_*; the developer's environment must not leak in."""
    for var in list(os.environ):
        if var.startswith("RAGGUARD_"):
            monkeypatch.delenv(var, raising=False)


@pytest.fixture
def guard() -> Guard:
    """In-memory store, fake embedder, fresh key, the stand-in detectors."""
    return make_guard(detectors=detectors())


@pytest.fixture
def app(guard: Guard) -> FastAPI:
    return create_app(server_settings(), guard=guard)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A TestClient with the lifespan run (so warm-up has started)."""
    with TestClient(app) as c:
        app.state.ragguard.wait_warm(10)
        yield c


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Chroma server on a free loopback port, stopped after the session."""
    with testing.chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url
