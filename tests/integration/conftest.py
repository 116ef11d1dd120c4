"""Integration fixtures: the real model (loaded once) and real Chroma, embedded and server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragguard import Guard, Settings, testing
from ragguard.embedders import SentenceTransformerEmbedder
from ragguard.provenance import Keyring

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    emb = SentenceTransformerEmbedder()
    emb.embed(["warm up"])
    return emb


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Chroma server on a free loopback port, stopped after the session."""
    with testing.chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


@pytest.fixture(params=["embedded", "server"])
def real_guard(request: pytest.FixtureRequest, tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Guard:
    """A guard with the real model and default detectors over Chroma, embedded or server."""
    if request.param == "embedded":
        return Guard.open(tmp_path / "store", embedder=embedder, settings=Settings())
    url = request.getfixturevalue("chroma_server")
    # Each test gets its own collection on the shared server, and its own key.
    name = "t" + uuid.uuid4().hex[:12]
    return Guard.open(
        chroma_url=url, collection=name, embedder=embedder, settings=Settings(), keyring=Keyring.generate()
    )


@pytest.fixture(autouse=True)
def _no_signing_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("RAGGUARD_SIGNING_KEY", "RAGGUARD_KEY_FILE", "RAGGUARD_STORE", "RAGGUARD_CONFIG"):
        monkeypatch.delenv(var, raising=False)
