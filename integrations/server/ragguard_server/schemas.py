"""Request and response bodies of the HTTP API.

Screening responses mirror ``ragguard ingest --json`` / ``scan --json``: one
object per input record, ``{"id", "action", "score", "findings", "chunks"}``,
with the input ``id`` echoed unchanged. Size limits that depend on settings
(records per request, text length, ``k``) are checked in the routes so the
error can name the setting; the static ones here bound what no setting covers.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, field_validator
from ragguard import Action, DropReason, TrustTier

MetadataValue = StrictStr | StrictBool | StrictInt | StrictFloat


def _absent(value: object) -> bool:
    """Optional keys are left out when empty, as in the CLI's ``--json`` (DESIGN.md: ``"span"?``)."""
    return value is None or value == []


RecordId = StrictStr | StrictInt


class RecordIn(BaseModel):
    """One input record. Fields other than these are ignored, as in ``.jsonl`` input."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field(description="The text to screen (long texts are chunked).")
    id: RecordId | None = Field(default=None, description="Echoed back unchanged; derived from the text if absent.")
    source: str | None = Field(default=None, max_length=4096, description="Source URI; the request's when absent.")
    metadata: dict[str, MetadataValue] = Field(
        default_factory=dict, description="Flat caller metadata (strings, numbers, booleans), stored beside the chunk."
    )


class ScreenRequest(BaseModel):
    """Body of ``POST /v1/ingest`` and ``POST /v1/scan``."""

    model_config = ConfigDict(extra="forbid")

    records: list[RecordIn | str] = Field(min_length=1, description="Strings, or objects with `text`.")
    source: str | None = Field(default=None, max_length=4096, description="Source URI for records that name none.")
    trust: TrustTier | None = Field(
        default=None, description="Requested trust tier; the server's source policy can lower it, never raise it."
    )


class FindingOut(BaseModel):
    """One reason a detector found a chunk suspicious."""

    detector: str
    code: str
    score: float
    explanation: str
    span: list[int] | None = Field(
        default=None,
        exclude_if=_absent,
        description="[start, end) character offsets within the chunk; absent when the finding judges the whole chunk.",
    )


class ThresholdsOut(BaseModel):
    """Scores from which a chunk is quarantined or rejected."""

    quarantine: float
    reject: float


class RecordOut(BaseModel):
    """The verdict for one input record: the worst over its chunks."""

    id: RecordId
    action: Action
    score: float
    findings: list[FindingOut]
    chunks: int
    trust: TrustTier | None = Field(default=None, description="The trust tier applied (after per-source rules).")
    thresholds: ThresholdsOut | None = Field(
        default=None, description="The scores the record was held against; null for a blocked source."
    )


class IngestCounts(BaseModel):
    """Chunks by outcome."""

    allowed: int
    quarantined: int
    rejected: int
    unchanged: int


class IngestResponse(BaseModel):
    """Body of a ``POST /v1/ingest`` response."""

    records: list[RecordOut]
    counts: IngestCounts


class ScanResponse(BaseModel):
    """Body of a ``POST /v1/scan`` response (nothing was written)."""

    records: list[RecordOut]


class SearchRequest(BaseModel):
    """Body of ``POST /v1/search``."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, description="The question to retrieve context for.")
    k: StrictInt = Field(default=5, ge=1, description="Number of results (at most the server's max_k).")


class HitOut(BaseModel):
    """A chunk that passed the retrieval filter."""

    id: str
    text: str
    source: str
    doc_id: str
    chunk_index: int
    distance: float
    metadata: dict[str, Any]


class DropOut(BaseModel):
    """A stored chunk the retrieval filter refused, and why."""

    id: str
    reason: DropReason


class SearchResponse(BaseModel):
    """Body of a ``POST /v1/search`` response."""

    query: str
    hits: list[HitOut]
    dropped: list[DropOut]


class QuarantineFinding(BaseModel):
    """A finding as sealed into a quarantined chunk's provenance."""

    detector: str
    code: str
    score: float


class RescanOut(BaseModel):
    """Today's verdict on a quarantined chunk, screened again; the seal keeps no explanations."""

    action: Action
    score: float
    findings: list[FindingOut]
    text_only_because: str | None = Field(
        default=None,
        exclude_if=_absent,
        description="Set when only the text detectors ran: why the stored vector could not be used.",
    )
    not_found_again: list[str] = Field(
        default_factory=list,
        exclude_if=_absent,
        description="Sealed rule codes today's screen did not find (seams, a changed store or rules).",
    )


class QuarantineEntryOut(BaseModel):
    """A quarantined chunk, for review."""

    id: str
    source: str
    doc_id: str
    trust: TrustTier | None = Field(
        default=None, description="The tier it was screened under, as sealed (claimed only if the seal fails)."
    )
    score: float
    findings: list[QuarantineFinding]
    ingested_at: str
    seal_valid: bool
    text: str
    audit_reason: str | None = Field(
        default=None,
        exclude_if=_absent,
        description="Why an audit moved the chunk here as-is (an integrity reason), when one did.",
    )
    rescan: RescanOut | None = Field(
        default=None,
        exclude_if=_absent,
        description="Today's detectors on the chunk, with explanations and spans (single entry only).",
    )


class QuarantineListResponse(BaseModel):
    """A page of quarantined chunks."""

    entries: list[QuarantineEntryOut]
    limit: int
    offset: int


class ReleaseResponse(BaseModel):
    """Body of a ``POST /v1/quarantine/{id}/release`` response."""

    id: str
    status: Literal["released"] = "released"


class ErrorBody(BaseModel):
    """Every error response: a readable ``detail`` and a stable ``code``."""

    detail: str | list[dict[str, Any]]
    code: str


class HealthResponse(BaseModel):
    """Body of ``GET /healthz``."""

    status: Literal["ok"] = "ok"


class ReadyResponse(BaseModel):
    """Body of ``GET /readyz``: each check is ``ok`` or a short word saying what is wrong."""

    ready: bool
    checks: dict[str, str]


class AuditRequest(BaseModel):
    """Body of ``POST /v1/audit``. Baselines are files the operator manages; use the CLI for them."""

    model_config = ConfigDict(extra="forbid")

    # Strict: a full re-embed or moving chunks is not started by a string that merely looks true.
    reembed: StrictBool = Field(default=False, description="Re-embed every chunk and flag vectors that do not match.")
    quarantine: StrictBool = Field(default=False, description="Move offenders to the quarantine collection.")
    shard: tuple[int, int] | None = Field(default=None, description="[i, n]: audit only shard i of n.")
    full_rescan: StrictBool = Field(
        default=False, description="Scan every text again, even those sealed with no finding by today's text rules."
    )
    restamp: StrictBool = Field(
        default=False,
        description="Re-seal chunks found clean under today's text rules (after an upgrade): later audits skip them.",
    )

    @field_validator("shard")
    @classmethod
    def _shard_in_range(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and not 0 <= v[0] < v[1]:
            raise ValueError("shard must be [i, n] with 0 <= i < n")
        return v


class AuditResponse(BaseModel):
    """The audit report, as ``ragguard audit --json`` prints it."""

    exit_code: int = Field(description="0 clean, 1 new findings, 2 integrity failures.")
    report: dict[str, Any]
