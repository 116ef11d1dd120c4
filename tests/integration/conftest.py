"""Integration fixtures: the real model (loaded once) and real Chroma, embedded and server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragguard import Guard, Settings
from ragguard.embedders import SentenceTransformerEmbedder
from ragguard.provenance import Keyring

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    emb = SentenceTransformerEmbedder()
    emb.embed(["warm up"])
    return emb


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _chroma_executable() -> str:
    here = Path(sys.executable).parent / "chroma"
    found = str(here) if here.exists() else shutil.which("chroma")
    if not found:
        pytest.fail("the `chroma` command (from the chromadb package) is not installed")
    return found


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Chroma server on a free loopback port, stopped after the session."""
    import httpx

    path = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    log = open(path / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [_chroma_executable(), "run", "--path", str(path / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"chroma server did not start: {(path / 'server.log').read_text()[-2000:]}")
        time.sleep(0.3)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


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
