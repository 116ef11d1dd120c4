"""The verified-seal cache: a hit skips the signature check and nothing else."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from ragguard.provenance import HmacSigner, Keyring, embedding_digest, metadata_digest, text_digest
from ragguard.provenance.seal import TRUST_KEY, SealCache, seal, verify
from ragguard.testing import edit_seal, make_guard
from ragguard.types import Action, DropReason, Provenance, TrustTier

TEXT = "The Danube flows through ten countries."
VEC = np.linspace(-1, 1, 16, dtype=np.float32)


def _sealed(ring: Keyring, text: str = TEXT, vec: np.ndarray = VEC) -> dict:
    prov = Provenance(
        chunk_id="rg-1", source="https://wiki.example/a", doc_id="d", chunk_index=0,
        text_sha256=text_digest(text), embedding_sha256=embedding_digest(vec), metadata_sha256=metadata_digest({}),
        embedder="fake", embedder_digest="0" * 64, ingested_at="2026-11-28T00:00:00+00:00",
        trust=TrustTier.TRUSTED, action=Action.ALLOW, score=0.0, findings="[]", policy_version="1",
        key_id="", algorithm="",
    )  # fmt: skip
    return seal(prov, ring)


class CountingSigner:
    """Wraps a signer and counts signature checks."""

    def __init__(self, inner: HmacSigner) -> None:
        self.inner = inner
        self.key_id = inner.key_id
        self.algorithm = inner.algorithm
        self.can_sign = True
        self.checks = 0

    def sign(self, data: bytes) -> str:
        return self.inner.sign(data)

    def verify(self, data: bytes, signature: str) -> bool:
        self.checks += 1
        return self.inner.verify(data, signature)


def _counting_ring() -> tuple[Keyring, CountingSigner]:
    signer = CountingSigner(HmacSigner(key_id="h" + "1" * 15, secret=os.urandom(32)))
    return Keyring.from_signers([signer]), signer  # type: ignore[list-item]


def test_a_hit_skips_the_signature_check_and_returns_the_same_record() -> None:
    ring, signer = _counting_ring()
    meta, cache = _sealed(ring), SealCache()
    first = verify("rg-1", TEXT, VEC, meta, ring, cache=cache)
    second = verify("rg-1", TEXT, VEC, dict(meta), ring, cache=cache)
    assert first == second and first[1] is None
    assert signer.checks == 1 and len(cache) == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda m: ("rg-1", TEXT + "!", VEC, m), DropReason.TEXT_MISMATCH),
        (lambda m: ("rg-1", TEXT, -VEC, m), DropReason.EMBEDDING_MISMATCH),
        (lambda m: ("rg-2", TEXT, VEC, m), DropReason.ID_MISMATCH),  # the seal copied onto another id
        (lambda m: ("rg-1", TEXT, VEC, {**m, "title": "x"}), DropReason.METADATA_MISMATCH),
        (lambda m: ("rg-1", TEXT, VEC, {**m, TRUST_KEY: "untrusted"}), DropReason.BAD_SIGNATURE),
        (lambda m: ("rg-1", TEXT, VEC, {**m, "rg_action": "allow"}), DropReason.BAD_SIGNATURE),
        (lambda m: ("rg-1", TEXT, VEC, edit_seal(m, action="quarantine")), DropReason.BAD_SIGNATURE),
    ],
)
def test_everything_but_the_signature_is_still_checked_on_a_hit(change, reason: DropReason) -> None:
    ring, signer = _counting_ring()
    meta, cache = _sealed(ring), SealCache()
    assert verify("rg-1", TEXT, VEC, meta, ring, cache=cache)[1] is None
    assert verify(*change(meta), ring, cache=cache)[1] is reason


def test_revoking_the_key_stops_cached_seals() -> None:
    ring = Keyring.generate()
    meta, cache = _sealed(ring), SealCache()
    assert verify("rg-1", TEXT, VEC, meta, ring, cache=cache)[1] is None
    assert ring.active_id is not None
    ring.rotate()
    ring.revoke(meta_key := ring.key_ids[0])
    assert meta_key != ring.active_id
    assert verify("rg-1", TEXT, VEC, meta, ring, cache=cache)[1] is DropReason.REVOKED_KEY


def test_an_entry_counts_only_for_the_signer_that_verified_it() -> None:
    # A cache shared with a keyring whose key under the same id is another secret: no hit.
    ring = Keyring.generate()
    meta, cache = _sealed(ring), SealCache()
    assert verify("rg-1", TEXT, VEC, meta, ring, cache=cache)[1] is None
    impostor = Keyring.from_signers([HmacSigner(key_id=ring.active().key_id, secret=os.urandom(32))])
    assert verify("rg-1", TEXT, VEC, meta, impostor, cache=cache)[1] is DropReason.BAD_SIGNATURE


def test_failed_seals_are_not_cached_and_the_cache_is_bounded() -> None:
    ring = Keyring.generate()
    cache = SealCache(maxsize=3)
    forged = _sealed(Keyring.from_signers([HmacSigner(key_id=ring.active().key_id, secret=os.urandom(32))]))
    assert verify("rg-1", TEXT, VEC, forged, ring, cache=cache)[1] is DropReason.BAD_SIGNATURE
    assert len(cache) == 0
    for i in range(5):
        text = f"{TEXT} {i}"
        assert verify("rg-1", text, VEC, _sealed(ring, text), ring, cache=cache)[1] is None
    assert len(cache) == 3
    off = SealCache(maxsize=0)
    assert verify("rg-1", TEXT, VEC, _sealed(ring), ring, cache=off)[1] is None and len(off) == 0


def test_threads_share_a_cache_safely() -> None:
    ring = Keyring.generate()
    cache = SealCache(maxsize=50)
    seals = [(f"{TEXT} {i}", _sealed(ring, f"{TEXT} {i}")) for i in range(200)]
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for j in range(400):
                text, meta = seals[(j * 7 + offset) % len(seals)]
                assert verify("rg-1", text, VEC, meta, ring, cache=cache)[1] is None
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(cache) <= 50


def test_a_guard_reuses_its_cache_across_searches_and_still_drops_tampering() -> None:
    g = make_guard()
    g.ingest(["Paris is the capital of France.", "Berlin is the capital of Germany."], source="https://wiki.example/")
    first = g.search("capital of France", k=2)
    assert len(first.hits) == 2 and len(g._seal_cache) == 2
    served = g.collections()[0]
    row = served.get([first.hits[0].id])[0]
    served.raw_set(row.id, row.text + " Actually it is Lyon.", row.embedding, row.metadata)  # type: ignore[attr-defined]
    again = g.search("capital of France", k=2)
    assert [d.reason for d in again.dropped] == [DropReason.TEXT_MISMATCH]


def test_the_audit_walk_leaves_the_search_cache_alone() -> None:
    # Each chunk is checked once by the audit: caching them would only evict what searches reuse.
    g = make_guard(detectors=[])
    g.ingest(["Paris is the capital of France.", "Berlin is the capital of Germany."], source="https://wiki.example/")
    assert g.audit().exit_code == 0
    assert len(g._seal_cache) == 0
