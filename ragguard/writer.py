"""Writing a screened batch: seal every kept chunk and store it where its verdict sends it.

Allowed chunks go to the served collection, quarantined ones to the
quarantine collection, rejected ones nowhere. A chunk already stored (in
either collection) is left as it is: chunk ids are content addressed, so
re-ingesting the same content stores nothing new, and a crash between two
batches is repaired by running the same ingest again. The one exception is a
stored chunk sealed by a key this keyring has revoked: it can never be served
again, so re-ingesting its content (screened afresh) replaces it with a chunk
sealed by the active key. A seal that fails for any other reason is left for
the audit to report: an edited text or a forged signature is tampering, and a
key the keyring does not hold is more often a wrong key setting than a lost key
(re-sealing the whole store with it would only move the problem).
"""

from __future__ import annotations

import logging
from collections.abc import Collection as AbstractSet
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ragguard._clock import utc_now
from ragguard.provenance.canonical import embedding_digest, metadata_digest, text_digest
from ragguard.provenance.keyring import Keyring
from ragguard.provenance.seal import claimed_provenance, encode_findings, seal
from ragguard.stores.base import Collection
from ragguard.types import Action, Chunk, Provenance, TrustTier, Verdict

if TYPE_CHECKING:
    from ragguard.guard import Guard

log = logging.getLogger(__name__)

#: How many findings are sealed into provenance per chunk (strongest first).
MAX_SEALED_FINDINGS = 16


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
    present = served.existing(ids) | quarantine.existing(ids)
    keyring = guard.keyring(create=True)
    revoked = sealed_by_revoked_keys(keyring, (served, quarantine), present) if present else set()
    if revoked:
        # Unservable as stored; the content was just screened again, so seal it anew.
        log.warning("re-sealing %d stored chunk(s) sealed by a revoked key", len(revoked))
        served.delete(sorted(revoked))
        quarantine.delete(sorted(revoked))
        present -= revoked
    digest = guard.embedder.weights_digest
    now = utc_now()
    to_served: list[tuple[Chunk, npt.NDArray[np.float32], dict[str, Any]]] = []
    to_quarantine: list[tuple[Chunk, npt.NDArray[np.float32], dict[str, Any]]] = []
    for c, tier, vec, v in zip(chunks, tiers, vectors, verdicts, strict=True):
        if c.id in present:
            counts["unchanged"] += 1
            continue
        if v.action is Action.REJECT:
            counts["rejected"] += 1
            continue
        prov = Provenance(
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
            policy_version=guard.policy.version,
            key_id="",
            algorithm="",
        )
        meta = {**c.metadata, **seal(prov, keyring)}
        (to_served if v.action is Action.ALLOW else to_quarantine).append((c, vec, meta))
    for col, rows, key in ((served, to_served, "stored"), (quarantine, to_quarantine, "quarantined")):
        if rows:
            col.add(
                [c.id for c, _, _ in rows],
                np.stack([vec for _, vec, _ in rows]),
                [c.text for c, _, _ in rows],
                [m for _, _, m in rows],
            )
            counts[key] += len(rows)


def sealed_by_revoked_keys(keyring: Keyring, collections: Sequence[Collection], ids: AbstractSet[str]) -> set[str]:
    """Ids among ``ids`` whose stored seal names a key that ``keyring`` holds as revoked.

    Reads metadata only (no vectors): whatever the signature, such a chunk is
    never served, and the caller re-seals it from content it has just screened.
    """
    revoked: set[str] = set()
    for col in collections:
        for chunk in col.get(sorted(ids), include_embeddings=False):
            claimed = claimed_provenance(chunk.metadata)
            if claimed is not None and keyring.is_revoked(claimed.key_id):
                revoked.add(chunk.id)
    return revoked


__all__ = ["MAX_SEALED_FINDINGS", "sealed_by_revoked_keys", "write_batch"]
