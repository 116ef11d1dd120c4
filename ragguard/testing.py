"""Fakes for users' tests: no model, no database.

``FakeEmbedder`` hashes words into a fixed-size vector (a bag of hashed words
and character trigrams), so texts that share words get nearby vectors, like a
real embedder, deterministically and in microseconds.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives import serialization

from ragguard.config import Settings
from ragguard.detectors.base import Detector, ScreeningBatch
from ragguard.guard import Guard
from ragguard.policy import Policy
from ragguard.provenance import legacy
from ragguard.provenance.keyring import Keyring
from ragguard.provenance.seal import SEAL_KEY, TRUST_KEY, from_metadata, seal, split_metadata
from ragguard.provenance.signers import Ed25519Signer, HmacSigner, Signer
from ragguard.stores.base import iter_pages
from ragguard.stores.memory import InMemoryCollection, InMemoryStore
from ragguard.types import Finding, Span

__all__ = [
    "edit_seal",
    "find_leaks",
    "forge_seal",
    "rewrite_as_layout_1",
    "key_needles",
    "secret_forms",
    "FakeEmbedder",
    "FlagDetector",
    "InMemoryCollection",
    "InMemoryStore",
    "chroma_server",
    "free_port",
    "in_memory_collections",
    "make_guard",
]

_WORD = re.compile(r"\w+", re.UNICODE)


class FakeEmbedder:
    """Deterministic hashed bag-of-words embedder.

    Args:
        dim: Vector size.
        model_id: Recorded in provenance like a real model id.
    """

    def __init__(self, dim: int = 64, model_id: str = "ragguard-testing/fake-embedder") -> None:
        self.dim = dim
        self.model_id = model_id
        self.calls = 0

    @property
    def weights_digest(self) -> str:
        """A stable stand-in digest (changes with ``dim``)."""
        return hashlib.sha256(f"fake-embedder-{self.dim}".encode()).hexdigest()

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit-norm float32 vectors; counts calls so tests can check 'embed once'."""
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            norm = float(np.linalg.norm(out[i]))
            if norm == 0.0:
                out[i, 0] = 1.0
            else:
                out[i] /= norm
        return out


class FlagDetector:
    """Flags texts that match a regular expression (a stand-in detector for tests).

    Args:
        pattern: Regex searched in each chunk's text.
        score: Score of the finding.
        name: Detector name.
        code: Rule code.
    """

    def __init__(self, pattern: str, score: float = 0.7, name: str = "flag", code: str = "RG-TEST-001") -> None:
        self.pattern = pattern
        self.score = score
        self.name = name
        self.code = code

    def detect(self, batch: ScreeningBatch) -> list[list[Finding]]:
        """One finding per chunk whose text matches, with the match's span."""
        rx = re.compile(self.pattern, re.IGNORECASE)
        out: list[list[Finding]] = []
        for chunk in batch.chunks:
            m = rx.search(chunk.text)
            out.append(
                [Finding(self.name, self.code, self.score, f"text matches {self.pattern!r}.", Span(m.start(), m.end()))]
                if m
                else []
            )
        return out


def make_guard(
    *,
    settings: Settings | None = None,
    keyring: Keyring | None = None,
    detectors: Sequence[Detector] | None = None,
    policy: Policy | None = None,
    dim: int = 64,
) -> Guard:
    """A guard over an in-memory store, a fake embedder and a fresh HMAC key."""
    return Guard(
        InMemoryStore(),
        FakeEmbedder(dim),
        settings=settings or Settings(),
        keyring=keyring or Keyring.generate(),
        detectors=detectors,
        policy=policy,
    )


def in_memory_collections(guard: Guard) -> tuple[InMemoryCollection, InMemoryCollection]:
    """The served and quarantine collections of a guard over :class:`InMemoryStore` (for raw edits in tests)."""
    served, quarantine = guard.collections()
    assert isinstance(served, InMemoryCollection) and isinstance(quarantine, InMemoryCollection)
    return served, quarantine


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def chroma_server(path: Path, *, port: int | None = None, timeout: float = 60.0) -> Iterator[str]:
    """Run ``chroma run`` on loopback for a test; yield its URL; stop it after.

    Args:
        path: Folder for the server's data and log (``path/data``, ``path/server.log``).
        port: Port to bind; a free one when None.
        timeout: Seconds to wait for the heartbeat.

    Raises:
        RuntimeError: If the ``chroma`` command is missing or the server does not come up.
    """
    here = Path(sys.executable).parent / "chroma"
    exe = str(here) if here.exists() else shutil.which("chroma")
    if not exe:
        raise RuntimeError("the `chroma` command (from the chromadb package) is not installed")
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    path.mkdir(parents=True, exist_ok=True)
    log_path = path / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [exe, "run", "--path", str(path / "data"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + timeout
            while not _heartbeat(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"chroma server did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _heartbeat(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


# -- key-leak checks (for tests that grep outputs, logs and stores for key material) --
def secret_forms(raw: bytes) -> dict[str, bytes]:
    """Every encoding of ``raw`` a leak could plausibly take."""
    b64 = base64.b64encode(raw)
    url = base64.urlsafe_b64encode(raw)
    return {
        "raw": raw,
        "latin-1 text": raw.decode("latin-1").encode("utf-8"),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
        "base64": b64,
        "base64 unpadded": b64.rstrip(b"="),
        "urlsafe base64": url,
        "urlsafe base64 unpadded": url.rstrip(b"="),
        "repr": repr(raw)[2:-1].encode(),
    }


def key_needles(ring: Keyring) -> dict[str, bytes]:
    """Every form of every secret in ``ring`` (HMAC secrets, Ed25519 private keys)."""
    needles: dict[str, bytes] = {}
    for kid in ring.key_ids:
        signer = ring.get(kid)
        if isinstance(signer, HmacSigner):
            needles.update({f"{kid} {name}": form for name, form in secret_forms(signer.secret).items()})
        elif isinstance(signer, Ed25519Signer) and signer.private_key is not None:
            raw = signer.private_key.private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
            der = signer.private_key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            pem = signer.private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            needles.update({f"{kid} {name}": form for name, form in secret_forms(raw).items()})
            needles.update({f"{kid} PKCS#8 DER {name}": form for name, form in secret_forms(der).items()})
            needles[f"{kid} PEM body"] = b"".join(pem.splitlines()[1:-1])
    return needles


def find_leaks(haystacks: dict[str, bytes], needles: dict[str, bytes]) -> list[str]:
    """``"where: which form"`` for every needle found in every haystack."""
    return [f"{where}: {name}" for where, hay in haystacks.items() for name, form in needles.items() if form in hay]


# -- store tampering (for tests of the retrieval filter and the audit) --------------
def edit_seal(metadata: Mapping[str, Any], **fields: Any) -> dict[str, Any]:
    """Stored metadata with sealed fields changed and the old signature kept.

    What an attacker with write access to the store but no key produces: the
    record says something new, the signature is the one made for the old
    record. Works on both layouts; field names are :class:`Provenance`'s
    (``action="allow"``, ``source="https://..."``), enum values as strings.
    """
    out = dict(metadata)
    if SEAL_KEY in out:
        tag_sig, _, body = str(out[SEAL_KEY]).partition(".{")  # the signature (base64url) holds no "{"
        record = json.loads("{" + body)
        record.update(fields)
        body = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        out[SEAL_KEY] = f"{tag_sig}.{body}"
        if "trust" in fields:
            out[TRUST_KEY] = fields["trust"]
        return out
    for name, value in fields.items():
        out[legacy.FIELDS[name]] = value
    return out


def forge_seal(metadata: Mapping[str, Any], signer: Signer, **fields: Any) -> dict[str, Any]:
    """Stored metadata re-sealed by ``signer`` (a forger's key under the real key id) with ``fields`` changed."""
    rg, user = split_metadata(metadata)
    prov = dataclasses.replace(from_metadata(rg), **fields)
    return {**user, **seal(prov, Keyring.from_signers([signer]))}


def rewrite_as_layout_1(guard: Guard) -> None:
    """Rewrite every chunk's seal in ``guard``'s store as layout 1, signed by its active key.

    What a store written by a release before layout 2 holds: for tests of
    :meth:`Guard.reseal <ragguard.Guard.reseal>` and of reading old stores.
    For tests only: it re-signs every chunk without checking it first, so it
    would launder a tampered one.
    """
    signer = guard.keyring().active()
    for col in guard.collections():
        for page in iter_pages(col, 500):
            metas: list[dict[str, Any]] = []
            for c in page:
                rg, user = split_metadata(c.metadata)
                v1: dict[str, Any] = dict(legacy.to_metadata_v1(from_metadata(rg)))
                v1[legacy.SIGNATURE_KEY] = signer.sign(legacy.signed_bytes_v1(v1))
                metas.append({**user, **v1})
            col.replace_metadata([c.id for c in page], metas)
