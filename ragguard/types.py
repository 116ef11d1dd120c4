"""Frozen data that flows through ragguard: chunks, findings, verdicts, results.

Nothing here does I/O. Every result explains itself: a :class:`Finding` names
the detector, a stable rule code, a score, the span it matched and one sentence
saying why.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MetadataValue = str | int | float | bool


class Action(str, enum.Enum):
    """What the policy decided for a chunk. Ordered from least to most severe."""

    ALLOW = "allow"
    QUARANTINE = "quarantine"
    REJECT = "reject"

    @property
    def severity(self) -> int:
        """Rank used to take the worst action over several chunks."""
        return _SEVERITY[self]


_SEVERITY = {Action.ALLOW: 0, Action.QUARANTINE: 1, Action.REJECT: 2}


class TrustTier(str, enum.Enum):
    """How much a source is trusted. ``blocked`` sources are never stored or served."""

    TRUSTED = "trusted"
    UNTRUSTED = "untrusted"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class Span:
    """Half-open character range ``[start, end)`` in the chunk text as screened."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid span [{self.start}, {self.end})")

    def overlaps(self, other: Span) -> bool:
        """Whether the two ranges share at least one character."""
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Finding:
    """One reason a detector finds a chunk suspicious.

    Attributes:
        detector: Stable detector name (part of the audit baseline format).
        code: Stable rule code, e.g. ``"RG-INS-001"``.
        score: Suspicion in [0, 1]; higher is more suspicious.
        explanation: One sentence a reviewer can read.
        span: Where in the text, when the finding is local to a span.
    """

    detector: str
    code: str
    score: float
    explanation: str
    span: Span | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"finding score {self.score} is outside [0, 1]")

    def to_dict(self) -> dict[str, Any]:
        """JSON form used by ``--json`` output and the HTTP sidecar."""
        out: dict[str, Any] = {
            "detector": self.detector,
            "code": self.code,
            "score": round(self.score, 4),
            "explanation": self.explanation,
        }
        if self.span is not None:
            out["span"] = [self.span.start, self.span.end]
        return out


@dataclass(frozen=True)
class Chunk:
    """A piece of text ready to be screened, before embedding.

    Attributes:
        id: Content-addressed chunk id (see :func:`ragguard.provenance.chunk_id`).
        text: The chunk text, exactly as it will be stored.
        source: Source URI the chunk came from.
        doc_id: Id of the record the chunk was cut from.
        chunk_index: Position of the chunk within its record.
        metadata: Caller metadata (scalar values only), stored beside the chunk.
    """

    id: str
    text: str
    source: str
    doc_id: str
    chunk_index: int
    metadata: Mapping[str, MetadataValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """The policy's decision for one chunk.

    Attributes:
        chunk_id: The chunk decided.
        action: What happens to it.
        score: The combined score in [0, 1].
        findings: Every finding, strongest first.
        trust: The trust tier the policy applied (after per-source rules).
        quarantine_at: The score from which it is quarantined (None for a blocked source).
        reject_at: The score from which it is rejected (None for a blocked source).
    """

    chunk_id: str
    action: Action
    score: float
    findings: tuple[Finding, ...] = ()
    trust: TrustTier | None = None
    quarantine_at: float | None = None
    reject_at: float | None = None


@dataclass(frozen=True)
class RecordVerdict:
    """The decision for one input record: the worst over its chunks.

    ``id`` echoes the input record's id unchanged.
    """

    id: str
    action: Action
    score: float
    findings: tuple[Finding, ...]
    chunks: tuple[Verdict, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``scan --json`` and ``ingest --json`` print per record.

        ``trust`` and ``thresholds`` say what the score was held against: the
        tier and the quarantine and reject scores after per-source rules
        (``thresholds`` is null for a blocked source, which is always rejected).
        """
        out: dict[str, Any] = {
            "id": self.id,
            "action": self.action.value,
            "score": round(self.score, 4),
            "findings": [f.to_dict() for f in self.findings],
            "chunks": len(self.chunks),
        }
        if self.applied is not None:
            trust, q, r = self.applied
            out["trust"] = trust.value
            out["thresholds"] = None if q is None or r is None else {"quarantine": q, "reject": r}
        return out

    @property
    def applied(self) -> tuple[TrustTier, float | None, float | None] | None:
        """``(trust, quarantine_at, reject_at)`` the record was held against; None when not recorded."""
        # Every chunk of a record comes from its one source, so the first speaks for all.
        first = self.chunks[0] if self.chunks else None
        if first is None or first.trust is None:
            return None
        return first.trust, first.quarantine_at, first.reject_at


@dataclass(frozen=True)
class IngestReport:
    """What :meth:`ragguard.Guard.ingest` did.

    Attributes:
        records: One verdict per input record, in input order.
        stored: Chunks newly written to the served collection.
        quarantined: Chunks newly written to the quarantine collection.
        rejected: Chunks refused and not stored.
        unchanged: Chunks already present (re-ingesting is idempotent).
    """

    records: tuple[RecordVerdict, ...]
    stored: int
    quarantined: int
    rejected: int
    unchanged: int

    def counts(self) -> dict[str, int]:
        """Chunk counts by outcome, for summaries."""
        return {
            "allowed": self.stored,
            "quarantined": self.quarantined,
            "rejected": self.rejected,
            "unchanged": self.unchanged,
        }


@dataclass(frozen=True)
class Provenance:
    """The record sealed with every stored chunk.

    Stored as one signed record in the ``rg_seal`` metadata key (see
    :mod:`ragguard.provenance.seal`); the signature covers every field.

    Attributes:
        chunk_id: Content-addressed id (source + normalised text).
        source: Source URI.
        doc_id: Id of the input record the chunk was cut from.
        chunk_index: Position of the chunk in that record.
        text_sha256: Digest of the stored text.
        embedding_sha256: Digest of the stored vector (float32 LE bytes).
        metadata_sha256: Digest of the caller metadata stored beside the chunk.
        embedder: Embedding model id.
        embedder_digest: SHA-256 of the model weights that produced the vector.
        ingested_at: ISO-8601 UTC time of sealing.
        trust: Trust tier of the source when ingested.
        action: The policy's decision; only ``allow`` is ever served.
        score: The policy's combined score in [0, 1].
        findings: Compact JSON list of ``[detector, code, score]`` triples.
        policy_version: Version of the policy that decided.
        key_id: Id of the key that sealed the record.
        algorithm: Signature algorithm of that key.
        review: Empty, or how a reviewer overrode the policy (``"released <time>"``).
    """

    chunk_id: str
    source: str
    doc_id: str
    chunk_index: int
    text_sha256: str
    embedding_sha256: str
    metadata_sha256: str
    embedder: str
    embedder_digest: str
    ingested_at: str
    trust: TrustTier
    action: Action
    score: float
    findings: str
    policy_version: str
    key_id: str
    algorithm: str
    review: str = ""


class DropReason(str, enum.Enum):
    """Why the retrieval filter refused to serve a stored chunk."""

    UNSEALED = "unsealed"
    MALFORMED_SEAL = "malformed_seal"
    UNKNOWN_KEY = "unknown_key"
    REVOKED_KEY = "revoked_key"
    BAD_SIGNATURE = "bad_signature"
    TEXT_MISMATCH = "text_mismatch"
    EMBEDDING_MISMATCH = "embedding_mismatch"
    ID_MISMATCH = "id_mismatch"
    METADATA_MISMATCH = "metadata_mismatch"
    NOT_ALLOWED = "not_allowed"
    REVOKED_SOURCE = "revoked_source"
    BLOCKED_SOURCE = "blocked_source"
    NOT_IN_STORE = "not_in_store"


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as read back from a vector store (nothing verified yet)."""

    id: str
    text: str
    embedding: Any  # np.ndarray of float32; Any keeps this module free of numpy
    metadata: Mapping[str, MetadataValue]
    distance: float | None = None


@dataclass(frozen=True)
class Hit:
    """A search result that passed the retrieval filter."""

    id: str
    text: str
    source: str
    doc_id: str
    chunk_index: int
    distance: float
    metadata: Mapping[str, MetadataValue]


@dataclass(frozen=True)
class Drop:
    """A stored chunk the retrieval filter refused, and why."""

    id: str
    reason: DropReason


@dataclass(frozen=True)
class SearchResult:
    """Hits that passed the filter, plus what was dropped on the way."""

    hits: tuple[Hit, ...]
    dropped: tuple[Drop, ...]

    def to_dict(self, query: str) -> dict[str, Any]:
        """JSON form printed by ``search --json`` and returned by ``POST /v1/search``."""
        return {
            "query": query,
            "hits": [
                {
                    "id": h.id,
                    "text": h.text,
                    "source": h.source,
                    "doc_id": h.doc_id,
                    "chunk_index": h.chunk_index,
                    "distance": round(h.distance, 6),
                    "metadata": dict(h.metadata),
                }
                for h in self.hits
            ],
            "dropped": [{"id": d.id, "reason": d.reason.value} for d in self.dropped],
        }

    def drop_counts(self) -> dict[str, int]:
        """Number of drops by reason."""
        counts: dict[str, int] = {}
        for d in self.dropped:
            counts[d.reason.value] = counts.get(d.reason.value, 0) + 1
        return counts
