"""Frozen results of a re-audit: every entry says what is wrong, where, and why.

Nothing here does I/O. :class:`AuditReport` is what :meth:`ragguard.Guard.audit`
returns and what ``ragguard audit --json`` prints (:meth:`AuditReport.to_dict`).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any

from ragguard.types import Action, DropReason

#: ``ragguard audit`` exit codes (2 wins over 1).
EXIT_CLEAN = 0
EXIT_NEW_FINDINGS = 1
EXIT_INTEGRITY = 2


class AuditReason(str, enum.Enum):
    """Integrity failures only the audit can see (the retrieval filter's are :class:`DropReason`)."""

    #: A served chunk whose id is also in the quarantine collection: a quarantined
    #: chunk written back around the guard.
    ALSO_QUARANTINED = "also_quarantined"
    #: Re-embedding the text gives a different vector than the sealed one: the
    #: vector was produced by other weights (a swapped model) or for other text.
    SWAPPED_VECTOR = "swapped_vector"


IntegrityReason = DropReason | AuditReason

#: Filter reasons that are policy, not tampering: the chunk verifies but its
#: source has since been revoked or blocked. Reported, never an integrity failure.
WITHHELD_REASONS = frozenset({DropReason.REVOKED_SOURCE, DropReason.BLOCKED_SOURCE})

_EXPLAIN: dict[str, str] = {
    "unsealed": "It carries no seal: it was written to the store around the guard.",
    "malformed_seal": "Its seal cannot be parsed: it was written or edited around the guard.",
    "unknown_key": "It is sealed by a key the keyring does not hold.",
    "revoked_key": "It is sealed by a revoked key.",
    "bad_signature": "A sealed field (e.g. action, source, trust) was edited after sealing.",
    "text_mismatch": (
        "Its text differs from the sealed text digest: edited in the store, or a seal copied from another chunk."
    ),
    "embedding_mismatch": "Its vector differs from the sealed vector digest: replaced in the store.",
    "id_mismatch": "Its seal belongs to another chunk id: a seal copied onto other content.",
    "metadata_mismatch": "Its caller metadata differs from what was sealed.",
    "not_allowed": "Its seal says it was quarantined or rejected, yet it sits in the served collection.",
    "also_quarantined": (
        "The same id is in the quarantine collection: a quarantined chunk written back to the served one."
    ),
    "swapped_vector": (
        "Re-embedding its text gives a different vector (cosine < 0.999): the vector does not belong to the text."
    ),
}


def explain_reason(reason: IntegrityReason) -> str:
    """One sentence a reviewer can read for an integrity reason."""
    return _EXPLAIN.get(reason.value, f"It fails verification ({reason.value}).")


class FindingStatus(str, enum.Enum):
    """A finding's status against the baseline."""

    NEW = "new"
    UNCHANGED = "unchanged"
    RESOLVED = "resolved"
    #: On a chunk a reviewer released (its sealed ``review`` set): reported, never counted as new.
    RELEASED = "released"


@dataclass(frozen=True)
class IntegrityFailure:
    """A stored chunk that does not verify.

    Attributes:
        chunk_id: The id as stored.
        collection: ``"served"`` or ``"quarantine"``.
        reason: Why it fails.
        source: The source it *claims* (unverified metadata; may be empty).
        preview: The start of its text, for reviewers.
    """

    chunk_id: str
    collection: str
    reason: IntegrityReason
    source: str
    preview: str

    @property
    def explanation(self) -> str:
        """One sentence saying why this is a failure."""
        return explain_reason(self.reason)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.chunk_id,
            "collection": self.collection,
            "reason": self.reason.value,
            "explanation": self.explanation,
            "source": self.source,
            "preview": self.preview,
        }


@dataclass(frozen=True)
class AuditFinding:
    """One detector finding on a served chunk that today's policy would not allow.

    The baseline key is ``(chunk_id, text_sha256, detector, code)``.

    Attributes:
        chunk_id: The chunk.
        text_sha256: Digest of its text (so an edit under the same id is a new finding).
        source: Its sealed source.
        detector: Stable detector name.
        code: Stable rule code.
        score: The strongest score of this rule on this chunk.
        explanation: The detector's sentence (the baseline's, for resolved findings).
        status: New, unchanged, resolved or released, against the baseline.
        action: Today's verdict for the chunk; ``None`` for resolved findings.
        preview: The start of the chunk's text.
    """

    chunk_id: str
    text_sha256: str
    source: str
    detector: str
    code: str
    score: float
    explanation: str
    status: FindingStatus
    action: Action | None = None
    preview: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Baseline key."""
        return (self.chunk_id, self.text_sha256, self.detector, self.code)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.chunk_id,
            "text_sha256": self.text_sha256,
            "source": self.source,
            "detector": self.detector,
            "code": self.code,
            "score": round(self.score, 4),
            "explanation": self.explanation,
            "status": self.status.value,
            "action": self.action.value if self.action is not None else None,
            "preview": self.preview,
        }


@dataclass(frozen=True)
class MovedChunk:
    """A chunk ``--quarantine`` moved out of the served collection.

    Attributes:
        chunk_id: Its id in the served collection.
        quarantine_id: Its id in the quarantine collection (differs only when
            that id was already taken by different content).
        how: ``"resealed"`` (valid seal, re-sealed with action quarantine) or
            ``"copied_as_is"`` (failed integrity: never re-signed).
        reason: Why it was moved (a rule code or an integrity reason).
    """

    chunk_id: str
    quarantine_id: str
    how: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class DetectorInfo:
    """A detector as recorded in the baseline: name, class and constructor parameters."""

    name: str
    cls: str
    params: tuple[tuple[str, str | int | float | bool | None], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "class": self.cls, "params": dict(self.params)}


@dataclass(frozen=True)
class MapPoint:
    """One chunk on the 2-D embedding map."""

    x: float
    y: float
    chunk_id: str
    kind: str  # "clean", "finding" or "integrity"


@dataclass(frozen=True)
class EmbeddingMap:
    """A PCA projection of a bounded random sample of the store plus every flagged chunk.

    Attributes:
        points: Projected points.
        sampled: How many clean chunks the random sample holds.
        total: How many chunks the sample was drawn from.
        explained: Fraction of variance the two axes explain.
    """

    points: tuple[MapPoint, ...]
    sampled: int
    total: int
    explained: tuple[float, float]


@dataclass(frozen=True)
class AuditCounts:
    """How many chunks each part of the audit looked at or found.

    Attributes:
        served: Chunks in the served collection (in this shard).
        quarantined: Chunks in the quarantine collection (in this shard).
        verified: Served chunks that pass the retrieval filter and were screened again.
        text_scan_skipped: Verified chunks whose text was not scanned again: their seal
            shows today's text detectors found nothing in it (see
            :mod:`ragguard.audit.incremental`); the other detectors still ran.
        sealed_under_other_rules: Verified chunks whose seal names another text screen
            (an earlier release or rule set): scanned in full, each audit, until
            ``restamp`` re-seals the clean ones.
        restamped: Served chunks re-sealed under today's screen version (``restamp``).
        restamp_left: Chunks ``restamp`` found clean but left as they were: sealed by
            another key than the active one, holding ``rg_`` keys this release does not
            know, or changed by another writer during the audit (the log says which).
        withheld: Served chunks that verify but whose source is now revoked or blocked.
        integrity_failures: Integrity failures (served and quarantine).
        offending_chunks: Served chunks today's policy would not allow (released ones excluded).
        new_findings: Findings not in the baseline.
        unchanged_findings: Findings also in the baseline.
        resolved_findings: Baseline findings gone today.
        released_findings: Findings on chunks a reviewer released.
        below_threshold: Served chunks with findings too weak for today's policy to act on.
        held_by_audit: Quarantine entries an earlier audit copied there as-is.
        interrupted_releases: Ids in both collections whose served copy is a valid reviewer release.
        interrupted_moves: Ids in both collections because an audit's ``quarantine`` move was
            interrupted (its copy is signed as a move in progress); with ``quarantine`` the
            audit finishes them, otherwise they stay served until one does.
        reembedded: Chunks whose vector was recomputed and compared (``reembed``).
        reembed_skipped: Chunks sealed by another embedder model (not comparable).
        moved: Chunks moved to quarantine (``quarantine=True``).
    """

    served: int = 0
    quarantined: int = 0
    verified: int = 0
    text_scan_skipped: int = 0
    sealed_under_other_rules: int = 0
    restamped: int = 0
    restamp_left: int = 0
    withheld: int = 0
    integrity_failures: int = 0
    offending_chunks: int = 0
    new_findings: int = 0
    unchanged_findings: int = 0
    resolved_findings: int = 0
    released_findings: int = 0
    below_threshold: int = 0
    held_by_audit: int = 0
    interrupted_releases: int = 0
    interrupted_moves: int = 0
    reembedded: int = 0
    reembed_skipped: int = 0
    moved: int = 0

    def to_dict(self) -> dict[str, int]:
        """JSON form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class AuditReport:
    """What a re-audit found. :attr:`exit_code` is what ``ragguard audit`` exits with.

    Attributes:
        collection: The served collection audited.
        started_at: ISO-8601 UTC start time.
        finished_at: ISO-8601 UTC end time.
        counts: Summary counts.
        integrity_failures: Chunks that do not verify (exit 2).
        findings: Findings with their baseline status (new ones: exit 1).
        moved: What ``quarantine=True`` moved.
        detectors: The detectors that re-scanned the store.
        policy_version: The policy that decided.
        shard: ``(i, n)`` when only shard ``i`` of ``n`` was audited.
        reembed: Whether vectors were recomputed and compared.
        full_rescan: Whether every text was scanned again (no text scan skipped).
        screen_version: What today's screen seals as ``policy_version`` (compare a
            chunk's seal with it: the same value lets the audit skip its text scan).
        baseline_notes: Why the baseline comparison may be partial (missing file,
            other detectors or policy).
        embedding_map: The 2-D map for the HTML report, when asked for.
    """

    collection: str
    started_at: str
    finished_at: str
    counts: AuditCounts
    integrity_failures: tuple[IntegrityFailure, ...]
    findings: tuple[AuditFinding, ...]
    moved: tuple[MovedChunk, ...]
    detectors: tuple[DetectorInfo, ...]
    policy_version: str
    shard: tuple[int, int] | None = None
    reembed: bool = False
    full_rescan: bool = False
    screen_version: str = ""
    baseline_notes: tuple[str, ...] = ()
    embedding_map: EmbeddingMap | None = None

    @property
    def new_findings(self) -> tuple[AuditFinding, ...]:
        """Findings not in the baseline."""
        return tuple(f for f in self.findings if f.status is FindingStatus.NEW)

    @property
    def exit_code(self) -> int:
        """0 clean, 1 new findings, 2 integrity failures (2 wins)."""
        if self.integrity_failures:
            return EXIT_INTEGRITY
        return EXIT_NEW_FINDINGS if self.new_findings else EXIT_CLEAN

    @property
    def clean(self) -> bool:
        """True when there is nothing to act on."""
        return self.exit_code == EXIT_CLEAN

    def by_reason(self) -> dict[str, int]:
        """Integrity failures counted by reason."""
        out: dict[str, int] = {}
        for f in self.integrity_failures:
            out[f.reason.value] = out.get(f.reason.value, 0) + 1
        return dict(sorted(out.items()))

    def by_code(self, *, include_resolved: bool = False) -> dict[str, int]:
        """Findings counted by ``detector/code`` (resolved ones only when asked)."""
        out: dict[str, int] = {}
        for f in self.findings:
            if include_resolved or f.status is not FindingStatus.RESOLVED:
                label = f"{f.detector}/{f.code}"
                out[label] = out.get(label, 0) + 1
        return dict(sorted(out.items()))

    def summary(self) -> str:
        """One line for humans and logs."""
        c = self.counts
        parts = [
            f"audited {c.served} served and {c.quarantined} quarantined chunks",
            f"{c.integrity_failures} integrity failure{'' if c.integrity_failures == 1 else 's'}",
            f"{c.new_findings} new / {c.unchanged_findings} unchanged / {c.resolved_findings} resolved findings",
        ]
        if c.released_findings:
            parts.append(f"{c.released_findings} on released chunks")
        if c.interrupted_moves:
            done = "finished" if c.moved else "to finish with --quarantine"
            parts.append(f"{c.interrupted_moves} interrupted quarantine move(s) {done}")
        if self.full_rescan:
            parts.append("every text scanned again (full re-scan)")
        if c.text_scan_skipped:
            # Say so: an operator who changed a custom rule outside ragguard's view should know.
            parts.append(f"{c.text_scan_skipped} texts sealed clean by today's text rules not scanned again")
        if c.restamped:
            parts.append(f"{c.restamped} re-sealed under today's text rules")
        if c.restamp_left:
            parts.append(
                f"{c.restamp_left} clean chunks not re-sealed (sealed by an older key, holding unknown rg_ keys, "
                "or changed meanwhile: see the log); they are scanned in full at every audit"
            )
        elif c.sealed_under_other_rules and not c.restamped:
            parts.append(
                f"{c.sealed_under_other_rules} texts sealed under earlier text rules scanned in full "
                "(after an upgrade: `ragguard audit --restamp` re-seals the clean ones so later audits skip them)"
            )
        if c.moved:
            parts.append(f"{c.moved} moved to quarantine")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``ragguard audit --json`` prints (no key material, no vectors)."""
        return {
            "collection": self.collection,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "exit_code": self.exit_code,
            "summary": self.summary(),
            "counts": self.counts.to_dict(),
            "integrity_by_reason": self.by_reason(),
            "findings_by_code": self.by_code(),
            "integrity_failures": [f.to_dict() for f in self.integrity_failures],
            "findings": [f.to_dict() for f in self.findings],
            "moved": [m.to_dict() for m in self.moved],
            "detectors": [d.to_dict() for d in self.detectors],
            "policy_version": self.policy_version,
            "shard": list(self.shard) if self.shard is not None else None,
            "reembed": self.reembed,
            "full_rescan": self.full_rescan,
            "screen_version": self.screen_version,
            "baseline_notes": list(self.baseline_notes),
        }
