"""Quarantined chunks as a reviewer sees them, and the reviewer's release."""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from ragguard._clock import utc_now
from ragguard.detectors.base import ScreeningBatch, detect_texts, split_detectors
from ragguard.errors import IntegrityError, NotFoundError, StoreError
from ragguard.provenance.keyring import Keyring
from ragguard.provenance.seal import claimed_provenance, decode_findings, seal, split_metadata, verify
from ragguard.records import AUDIT_EVIDENCE_KEY
from ragguard.screening import decide_all, detect_all
from ragguard.stores.base import Collection
from ragguard.types import Action, Chunk, Finding, Provenance, StoredChunk, TrustTier, Verdict

if TYPE_CHECKING:
    from ragguard.guard import Guard
    from ragguard.stores.base import StoreView

log = logging.getLogger(__name__)


#: The one metadata key ``ragguard audit --quarantine`` adds to a chunk it copies here as-is.
AUDIT_REASON_KEY = AUDIT_EVIDENCE_KEY


@dataclasses.dataclass(frozen=True)
class Rescan:
    """A quarantined chunk screened again today (nothing written): what a reviewer reads.

    The seal keeps each finding's detector, code and score but not its
    explanation or span; screening the chunk again gives both.

    Attributes:
        verdict: Today's policy verdict on today's findings.
        text_only_because: Why only the text detectors ran, when they did: the
            stored vector is unusable for the rest (a broken seal, another
            embedding model, an unreadable store). None when every detector ran.
        not_found_again: Rule codes in the seal that today's screen did not find.
            A chunk alone cannot show what ingest read across its seams with the
            neighbouring chunk, the store has changed since, and rules change.
    """

    verdict: Verdict
    text_only_because: str | None = None
    not_found_again: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the ``rescan`` of ``quarantine show`` and ``GET /v1/quarantine/{id}``)."""
        out: dict[str, Any] = {
            "action": self.verdict.action.value,
            "score": round(self.verdict.score, 4),
            "findings": [f.to_dict() for f in self.verdict.findings],
        }
        if self.text_only_because is not None:
            out["text_only_because"] = self.text_only_because
        if self.not_found_again:
            out["not_found_again"] = list(self.not_found_again)
        return out


@dataclasses.dataclass(frozen=True)
class QuarantineEntry:
    """A quarantined chunk, for review."""

    id: str
    text: str
    source: str
    doc_id: str
    score: float
    findings: tuple[tuple[str, str, float], ...]
    ingested_at: str
    seal_valid: bool
    #: The sealed record as stored: verified when ``seal_valid``, otherwise only
    #: what it claims (an attacker's word); None when unreadable.
    claimed: Provenance | None = None
    #: Why ``ragguard audit --quarantine`` put the chunk here, when it did (an
    #: integrity reason such as ``unsealed``, copied as-is, or a rule code).
    audit_reason: str = ""
    #: Today's detectors on the chunk, with explanations and spans; set by
    #: :meth:`ragguard.Guard.quarantine_get`, None in listings.
    rescan: Rescan | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "source": self.source,
            "doc_id": self.doc_id,
            # The tier the chunk was screened under (as sealed; claimed only, when the seal fails).
            "trust": self.claimed.trust.value if self.claimed is not None else None,
            "score": round(self.score, 4),
            "findings": [{"detector": d, "code": c, "score": s} for d, c, s in self.findings],
            "ingested_at": self.ingested_at,
            "seal_valid": self.seal_valid,
            "text": self.text,
            **({"audit_reason": self.audit_reason} if self.audit_reason else {}),
            **({"rescan": self.rescan.to_dict()} if self.rescan is not None else {}),
        }

    @classmethod
    def from_stored(cls, chunk: StoredChunk, keyring: Keyring) -> QuarantineEntry:
        """Read an entry from a stored chunk; ``seal_valid`` says whether its seal verifies."""
        prov, reason = verify(chunk.id, chunk.text, chunk.embedding, chunk.metadata, keyring)
        # A broken seal still shows what the record claims, marked invalid.
        claimed = prov if prov is not None else claimed_provenance(chunk.metadata)
        return cls(
            id=chunk.id,
            text=chunk.text,
            source=claimed.source if claimed else "",
            doc_id=claimed.doc_id if claimed else "",
            score=claimed.score if claimed else 0.0,
            findings=decode_findings(claimed.findings) if claimed else (),
            ingested_at=claimed.ingested_at if claimed else "",
            seal_valid=reason is None and prov is not None,
            claimed=claimed,
            audit_reason=str(chunk.metadata.get(AUDIT_REASON_KEY, "")),
        )


def rescreen(guard: Guard, chunk: StoredChunk, entry: QuarantineEntry, view: StoreView | None) -> Rescan:
    """Today's detectors and policy on a stored chunk, against the store as it is now (``view``).

    Every detector runs on the stored vector when the seal vouches for it and
    the guard's embedder made it; the store-reading ones never count the chunk
    as its own neighbour. Otherwise, or if the store cannot be read, only the
    text detectors run, and :attr:`Rescan.text_only_because` says why: a
    re-embedded vector from another model could not be compared with the store's.
    A broken seal's claims (trust tier, source) are the attacker's word: such a
    chunk is screened as untrusted under the default thresholds, no source's override.
    Detector errors propagate, as they would on ingest.
    """
    prov = entry.claimed if entry.seal_valid else None
    source = prov.source if prov is not None else ""
    tier = guard.settings.trust_for(source, prov.trust if prov is not None else TrustTier.UNTRUSTED)
    _, user = split_metadata(chunk.metadata)
    screened = Chunk(chunk.id, chunk.text, source, entry.doc_id, prov.chunk_index if prov else 0, user)
    model_id = guard.embedder.model_id
    why: str | None = None
    found: list[Finding] = []
    if prov is None or chunk.embedding is None:
        why = "the chunk's seal does not verify, so its stored vector is not used"
    elif prov.embedder != model_id:
        # Model ids can be local paths: the log names them, the answer (which may go over HTTP) does not.
        log.info("rescan of %s: vector made by %s, this guard embeds with %s", chunk.id, prov.embedder, model_id)
        why = "the chunk's vector was made by another embedding model than this guard's"
    else:
        vectors = np.asarray([chunk.embedding], dtype=np.float32)
        batch = ScreeningBatch([screened], vectors, [tier], store=view, embedder=model_id)
        try:
            found = detect_all(guard, batch)[0]
        except StoreError as exc:
            log.warning("rescan of %s: the store could not be read: %s", chunk.id, exc)
            why = "the store could not be read (see the log)"
    if why is not None:
        found = [f for per_text in detect_texts(split_detectors(guard.detectors)[0], [chunk.text]) for f in per_text[0]]
    if prov is None:
        verdict = guard.policy.decide(chunk.id, found, TrustTier.UNTRUSTED)
    else:
        verdict = decide_all(guard, [screened], [tier], [found])[0]
    today = {f.code for f in verdict.findings}
    missing = tuple(dict.fromkeys(code for _, code, _ in entry.findings if code not in today))
    return Rescan(verdict, why, missing)


def find_quarantined(quarantine: Collection, chunk_id: str) -> StoredChunk:
    """The quarantined chunk with this id.

    Raises:
        NotFoundError: If no quarantined chunk has this id.
    """
    found = quarantine.get([chunk_id])
    if not found:
        raise NotFoundError(f"no quarantined chunk with id {chunk_id!r}")
    return found[0]


def release(served: Collection, quarantine: Collection, chunk: StoredChunk, keyring: Keyring) -> None:
    """Re-seal a quarantined chunk as allowed and move it to the served collection.

    Safe to repeat after a crash: the served write is idempotent and comes
    before the quarantine delete.

    Raises:
        IntegrityError: If the chunk fails its seal (it stays quarantined).
    """
    prov, reason = verify(chunk.id, chunk.text, chunk.embedding, chunk.metadata, keyring)
    if reason is not None or prov is None:
        why = reason.value if reason else "unreadable seal"
        raise IntegrityError(f"quarantined chunk {chunk.id} fails its seal ({why}); it stays quarantined")
    released = dataclasses.replace(prov, action=Action.ALLOW, review=f"released {utc_now()}")
    _, user = split_metadata(chunk.metadata)
    meta = {**user, **seal(released, keyring)}
    served.add([chunk.id], np.asarray([chunk.embedding], dtype=np.float32), [chunk.text], [meta])
    # The add leaves an existing row under the id in place: only delete the reviewed copy once
    # what is served under its id is this chunk, sealed as allowed (released now, by an attempt
    # that crashed, or still there from an audit's move that crashed).
    now = served.get([chunk.id])
    held, why_not = (now[0], None) if now else (None, "nothing was written")
    if held is not None:
        got, bad = verify(held.id, held.text, held.embedding, held.metadata, keyring)
        same = got is not None and (got.text_sha256, got.embedding_sha256) == (prov.text_sha256, prov.embedding_sha256)
        if bad is not None or not same or got is None or got.action is not Action.ALLOW:
            why_not = f"the served collection holds another chunk under that id ({bad.value if bad else 'not it'})"
    if why_not is not None:
        raise IntegrityError(
            f"quarantined chunk {chunk.id} was not released: {why_not}; it stays quarantined "
            "(run `ragguard audit` to see what is served under that id)"
        )
    quarantine.delete([chunk.id])


__all__ = ["QuarantineEntry", "Rescan", "find_quarantined", "release", "rescreen"]
