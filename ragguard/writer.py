"""Writing a screened batch: seal every kept chunk and store it where its verdict sends it.

Allowed chunks go to the served collection, quarantined ones to the
quarantine collection, rejected ones nowhere. A chunk already stored (in
either collection) is left as it is: chunk ids are content addressed, so
re-ingesting the same content stores nothing new, and a crash between two
batches is repaired by running the same ingest again. The one exception is a
served chunk sealed by a key this keyring has revoked: it can never be served
again, so when its content is ingested again and today's screening allows it,
it is re-sealed in place by the active key, and only if nothing else about it
changed (same text, caller metadata and model; a stored vector that matches the
fresh one, as the audit's re-embed check judges it). The swap is atomic and conditional on the old metadata. Nothing is
deleted, and the quarantine (review decisions, audit evidence) is never touched. Any other
seal failure is left for the audit: an edited text or a forged signature is
tampering, and a key the keyring does not hold is more often a wrong key
setting than a lost key.
"""

from __future__ import annotations

import logging
from collections.abc import Collection as AbstractSet
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ragguard._clock import utc_now
from ragguard.embedders.base import same_vector
from ragguard.provenance.canonical import embedding_digest, metadata_digest, text_digest
from ragguard.provenance.keyring import Keyring
from ragguard.provenance.seal import claimed_provenance, encode_findings, seal, split_metadata
from ragguard.records import AUDIT_EVIDENCE_KEY
from ragguard.stores.base import Collection
from ragguard.types import Action, Chunk, Provenance, StoredChunk, TrustTier, Verdict

if TYPE_CHECKING:
    from ragguard.guard import Guard

log = logging.getLogger(__name__)

#: How many findings are sealed into provenance per chunk (strongest first).
MAX_SEALED_FINDINGS = 16


def evidence_ids(quarantine: Collection, ids: AbstractSet[str]) -> set[str]:
    """Of ``ids`` held in quarantine, those an audit copied there as-is (tampered, never re-signed)."""
    return {c.id for c in quarantine.get(sorted(ids), include_embeddings=False) if AUDIT_EVIDENCE_KEY in c.metadata}


def write_batch(
    guard: Guard,
    chunks: Sequence[Chunk],
    tiers: Sequence[TrustTier],
    vectors: npt.NDArray[np.float32],
    verdicts: Sequence[Verdict],
    counts: dict[str, int],
) -> None:
    """Seal and store one screened batch; add what happened to ``counts``.

    Args:
        guard: The guard whose store, keyring, embedder and policy are used.
        chunks: The batch's chunks, each with its tier, vector and verdict at the same position.
        tiers: The trust tier each chunk was screened under.
        vectors: The chunks' embeddings.
        verdicts: The policy's verdicts.
        counts: ``stored``, ``quarantined``, ``rejected`` and ``unchanged`` counters to update.
    """
    served, quarantine = guard.collections(create=True)
    ids = [c.id for c in chunks]
    held = quarantine.existing(ids)
    if held:
        # What an audit copied there as-is is evidence of tampering under this id, not this content:
        # it must not keep the genuine chunk out (nor does the audit count it as quarantined).
        held -= evidence_ids(quarantine, held)
    present = served.existing(ids) | held
    keyring = guard.keyring(create=True)
    stale = served_under_revoked_keys(keyring, served, present - held)
    digest = guard.embedder.weights_digest
    now = utc_now()
    screened_by = guard.screen_version  # once a batch: every chunk of it met the same detectors
    to_served: list[tuple[Chunk, npt.NDArray[np.float32], dict[str, Any]]] = []
    to_quarantine: list[tuple[Chunk, npt.NDArray[np.float32], dict[str, Any]]] = []
    resealed: list[tuple[StoredChunk, dict[str, Any]]] = []
    for c, tier, vec, v in zip(chunks, tiers, vectors, verdicts, strict=True):
        if c.id in present:
            old = stale.get(c.id)
            if old is not None and v.action is Action.ALLOW and _same_content(old, c, vec, guard.embedder.model_id):
                stored_vec = np.asarray(old.embedding, dtype=np.float32)
                prov = _provenance(guard, c, tier, stored_vec, v, digest, now, screened_by)
                resealed.append((old, {**c.metadata, **seal(prov, keyring)}))
            else:
                counts["unchanged"] += 1
            continue
        if v.action is Action.REJECT:
            counts["rejected"] += 1
            continue
        prov = _provenance(guard, c, tier, vec, v, digest, now, screened_by)
        meta = {**c.metadata, **seal(prov, keyring)}
        (to_served if v.action is Action.ALLOW else to_quarantine).append((c, vec, meta))
    if resealed:
        # Atomic per chunk and conditional on the metadata read above: a concurrent writer wins.
        done = served.replace_metadata(
            [old.id for old, _ in resealed], [m for _, m in resealed], expected=[old.metadata for old, _ in resealed]
        )
        counts["stored"] += len(done)
        counts["unchanged"] += len(resealed) - len(done)
        log.warning("re-sealed %d served chunk(s) whose key is revoked, with the active key", len(done))
    for col, rows, key in ((served, to_served, "stored"), (quarantine, to_quarantine, "quarantined")):
        if rows:
            col.add(
                [c.id for c, _, _ in rows],
                np.stack([vec for _, vec, _ in rows]),
                [c.text for c, _, _ in rows],
                [m for _, _, m in rows],
            )
            counts[key] += len(rows)


def _provenance(
    guard: Guard,
    c: Chunk,
    tier: TrustTier,
    vec: npt.NDArray[np.float32],
    v: Verdict,
    digest: str,
    now: str,
    screened_by: str,
) -> Provenance:
    return Provenance(
        chunk_id=c.id,
        source=c.source,
        doc_id=c.doc_id,
        chunk_index=c.chunk_index,
        text_sha256=text_digest(c.text),
        embedding_sha256=embedding_digest(vec),
        metadata_sha256=metadata_digest(c.metadata),
        embedder=guard.embedder.model_id,
        embedder_digest=digest,
        ingested_at=now,
        trust=tier,
        action=v.action,
        score=round(v.score, 6),
        findings=encode_findings(v.findings, MAX_SEALED_FINDINGS),
        policy_version=screened_by,
        key_id="",
        algorithm="",
    )


def _same_content(old: StoredChunk, c: Chunk, fresh: npt.NDArray[np.float32], model_id: str) -> bool:
    claimed = claimed_provenance(old.metadata)
    if claimed is None or claimed.embedder != model_id or old.text != c.text or old.embedding is None:
        return False
    if dict(split_metadata(old.metadata)[1]) != dict(c.metadata):
        return False  # caller metadata edited in the store, or changed at the source: not the same row
    return same_vector(old.embedding, fresh)


def served_under_revoked_keys(keyring: Keyring, served: Collection, ids: AbstractSet[str]) -> dict[str, StoredChunk]:
    """Served chunks among ``ids`` whose seal names a key ``keyring`` holds as revoked, with their vectors.

    Such a chunk is never served whatever its signature says; the writer may
    re-seal it from content it has just screened (see the module docstring).
    """
    if not ids:
        return {}

    def revoked(chunk: StoredChunk) -> bool:
        claimed = claimed_provenance(chunk.metadata)
        return claimed is not None and keyring.is_revoked(claimed.key_id)

    # Metadata first: re-ingesting unchanged content (the common case) reads no vectors. The
    # second read is checked again: what the caller re-seals is what it read, row for row.
    candidates = [c.id for c in served.get(sorted(ids), include_embeddings=False) if revoked(c)]
    return {c.id: c for c in served.get(candidates) if revoked(c)} if candidates else {}


__all__ = ["MAX_SEALED_FINDINGS", "served_under_revoked_keys", "write_batch"]
