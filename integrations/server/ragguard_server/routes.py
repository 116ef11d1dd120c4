"""The ``/v1`` API: ingest, scan, search, quarantine review and audit.

Every handler is ``async`` and hands the guard's work (embedding, detection,
store I/O) to a worker thread, so the event loop keeps serving health checks
and other requests while a batch is embedded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from ragguard import Guard, NotFoundError, QuarantineEntry, RecordVerdict, SearchResult, StoreError
from ragguard.audit import AuditCounts, AuditReport
from ragguard.audit.baseline import detector_info
from ragguard.stores.base import MAX_PAGE
from starlette.concurrency import run_in_threadpool

from ragguard_server.auth import require_token
from ragguard_server.limits import LimitExceeded
from ragguard_server.schemas import (
    AuditRequest,
    AuditResponse,
    ErrorBody,
    IngestCounts,
    IngestResponse,
    QuarantineEntryOut,
    QuarantineListResponse,
    RecordIn,
    RecordOut,
    ReleaseResponse,
    ScanResponse,
    ScreenRequest,
    SearchRequest,
    SearchResponse,
)
from ragguard_server.settings import ServerSettings
from ragguard_server.state import ServerState

T = TypeVar("T")

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "A Content-Length header that is not a number, or a body that cannot be decoded "
        "(malformed JSON is a 422).",
    },
    401: {"model": ErrorBody, "description": "Missing or invalid bearer token."},
    413: {"model": ErrorBody, "description": "Over a size limit (body bytes, records, text length)."},
    422: {"model": ErrorBody, "description": "Invalid request or record."},
    503: {"model": ErrorBody, "description": "Store unreachable, server misconfigured, or still starting."},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No quarantined chunk has this id."},
}
_SEAL_FAILS: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The quarantined chunk fails its seal; it stays quarantined."},
}

router = APIRouter(prefix="/v1", dependencies=[Depends(require_token)], responses=_ERRORS)


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.ragguard
    return state


StateDep = Annotated[ServerState, Depends(_state)]
ChunkId = Annotated[str, Path(min_length=1, max_length=256, description="A chunk id from a quarantine listing.")]


# -- helpers -------------------------------------------------------------------
def _label(index: int, rec: RecordIn | str) -> str:
    rid = rec.id if isinstance(rec, RecordIn) else None
    return f"record {rid!r}" if rid is not None else f"record {index}"


def _records(body: ScreenRequest, settings: ServerSettings) -> list[dict[str, Any]]:
    """Check the per-request limits and turn the body into ragguard input mappings."""
    n, most = len(body.records), settings.max_records_per_request
    if n > most:
        raise LimitExceeded(
            f"{n} records in one request; this server accepts at most {most} "
            "(max_records_per_request, RAGGUARD_MAX_RECORDS_PER_REQUEST): split the batch"
        )
    out: list[dict[str, Any]] = []
    for i, rec in enumerate(body.records):
        text = rec.text if isinstance(rec, RecordIn) else rec
        if len(text) > settings.max_text_chars:
            raise LimitExceeded(
                f"{_label(i, rec)}: text has {len(text)} characters; this server accepts at most "
                f"{settings.max_text_chars} (max_text_chars, RAGGUARD_MAX_TEXT_CHARS)"
            )
        if isinstance(rec, str):
            out.append({"text": rec})
        else:
            item: dict[str, Any] = {"text": rec.text, "metadata": dict(rec.metadata)}
            if rec.id is not None:
                item["id"] = rec.id
            if rec.source is not None:
                item["source"] = rec.source
            out.append(item)
    return out


def _records_out(body: ScreenRequest, verdicts: Sequence[RecordVerdict]) -> list[RecordOut]:
    """Verdicts in the CLI's JSON form, echoing each input id as sent (an integer stays one)."""
    out = []
    for rec, verdict in zip(body.records, verdicts, strict=True):
        data = verdict.to_dict()
        if isinstance(rec, RecordIn) and rec.id is not None:
            data["id"] = rec.id
        out.append(RecordOut.model_validate(data))
    return out


async def _or_empty(guard: Guard, work: Callable[[], T], empty: Callable[[], T]) -> T:
    """Run ``work`` in a thread; if the guard's collections do not exist yet, return ``empty()``.

    A fresh store has no collections until the first ingest. To a client that
    is an empty knowledge base, not an outage; the store is asked whether the
    collection exists, so an unreachable store still surfaces as 503.
    """
    try:
        return await run_in_threadpool(work)
    except StoreError:
        if await run_in_threadpool(guard.store.has_collection, guard.collection_name):
            raise
        return empty()


# -- routes ----------------------------------------------------------------------
@router.post("/ingest", summary="Screen, seal and store records")
async def ingest(body: ScreenRequest, state: StateDep) -> IngestResponse:
    """Screen records, seal what the policy allows or quarantines, and store it.

    Re-ingesting the same content stores nothing new (chunk ids are
    content-addressed). Nothing is stored when any record is invalid.
    """
    guard = state.require_guard()
    records = _records(body, state.settings)
    # Writes are serialised per process. Chunk ids are content-addressed and the
    # store's add skips ids it already holds, so concurrent ingests cannot
    # duplicate a chunk anyway; the lock makes each ingest's "already present?"
    # check, screening (store-aware detectors read the store) and write one step,
    # so two requests carrying the same chunk cannot both count it as new, or
    # decide it differently and put it in both the served and quarantine
    # collections, and the first ingest into a new embedded store generates
    # exactly one key file. Replicas sharing a Chroma server are not covered by
    # this lock; see the README.
    async with state.write_lock():
        report = await run_in_threadpool(guard.ingest, records, body.source, body.trust)
    state.metrics.observe_ingest(report)
    return IngestResponse(records=_records_out(body, report.records), counts=IngestCounts(**report.counts()))


@router.post("/scan", summary="Screen records without storing them")
async def scan(body: ScreenRequest, state: StateDep) -> ScanResponse:
    """The same screening as ingest, against the current store; writes nothing."""
    guard = state.require_guard()
    records = _records(body, state.settings)
    verdicts = await run_in_threadpool(guard.scan, records, body.source, body.trust)
    state.metrics.observe_screening("scan", verdicts)
    return ScanResponse(records=_records_out(body, verdicts))


@router.post("/search", summary="Retrieve through the retrieval filter")
async def search(body: SearchRequest, state: StateDep) -> SearchResponse:
    """The ``k`` nearest chunks that pass the filter, and what was dropped on the way (id, reason)."""
    guard = state.require_guard()
    settings = state.settings
    if len(body.query) > settings.max_text_chars:
        raise LimitExceeded(
            f"the query has {len(body.query)} characters; this server accepts at most {settings.max_text_chars} "
            "(max_text_chars, RAGGUARD_MAX_TEXT_CHARS)"
        )
    if body.k > settings.max_k:
        raise HTTPException(422, f"k is {body.k}; this server returns at most {settings.max_k} (max_k, RAGGUARD_MAX_K)")
    if not body.query.strip():
        raise HTTPException(422, "the query is empty")
    result = await _or_empty(guard, lambda: guard.search(body.query, k=body.k), lambda: SearchResult((), ()))
    state.metrics.observe_search(result)
    return SearchResponse.model_validate(result.to_dict(body.query))


@router.get("/quarantine", summary="List quarantined chunks")
async def quarantine_list(
    state: StateDep,
    limit: Annotated[int, Query(ge=1, description="Entries per page (at most max_quarantine_page).")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_PAGE, description="Entries to skip.")] = 0,
) -> QuarantineListResponse:
    """A page of quarantined chunks, with their findings and whether their seal verifies."""
    guard = state.require_guard()
    most = state.settings.max_quarantine_page
    if limit > most:
        raise HTTPException(
            422, f"limit is {limit}; at most {most} per page (max_quarantine_page, RAGGUARD_MAX_QUARANTINE_PAGE)"
        )
    no_entries: list[QuarantineEntry] = []
    entries = await _or_empty(guard, lambda: guard.quarantine_list(limit=limit, offset=offset), no_entries.copy)
    return QuarantineListResponse.model_validate(
        {"entries": [e.to_dict() for e in entries], "limit": limit, "offset": offset}
    )


def _not_found(chunk_id: str) -> Callable[[], Any]:
    def raise_() -> Any:
        raise NotFoundError(f"no quarantined chunk with id {chunk_id!r}")

    return raise_


@router.get("/quarantine/{chunk_id}", summary="Show one quarantined chunk", responses=_NOT_FOUND)
async def quarantine_get(chunk_id: ChunkId, state: StateDep) -> QuarantineEntryOut:
    """One quarantined chunk; 404 if there is none with this id."""
    guard = state.require_guard()
    entry = await _or_empty(guard, lambda: guard.quarantine_get(chunk_id, rescan=True), _not_found(chunk_id))
    return QuarantineEntryOut.model_validate(entry.to_dict())


@router.post(
    "/quarantine/{chunk_id}/release",
    summary="Release a quarantined chunk",
    responses={**_NOT_FOUND, **_SEAL_FAILS},
)
async def quarantine_release(chunk_id: ChunkId, state: StateDep) -> ReleaseResponse:
    """Re-seal a quarantined chunk as allowed and serve it.

    409 if the quarantined chunk fails its seal (it stays quarantined); 404 if
    there is none with this id.
    """
    guard = state.require_guard()
    async with state.write_lock():  # moves a chunk between collections; one writer per process
        await _or_empty(guard, lambda: guard.release(chunk_id), _not_found(chunk_id))
    return ReleaseResponse(id=chunk_id)


@router.delete(
    "/quarantine/{chunk_id}",
    summary="Purge a quarantined chunk",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_NOT_FOUND,
    response_class=Response,
)
async def quarantine_purge(chunk_id: ChunkId, state: StateDep) -> Response:
    """Delete a quarantined chunk for good; 404 if there is none with this id."""
    guard = state.require_guard()
    async with state.write_lock():
        await _or_empty(guard, lambda: guard.purge(chunk_id), _not_found(chunk_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/audit", summary="Re-audit the store")
async def audit(state: StateDep, body: AuditRequest | None = None) -> AuditResponse:
    """Verify every seal, re-scan with today's detectors, optionally re-embed and quarantine.

    The report's ``exit_code`` is the CLI's: 0 clean, 1 new findings, 2 integrity
    failures. With ``quarantine`` the audit moves chunks, and with ``restamp`` it re-seals
    them, so it takes the write lock.
    Before the first ingest the knowledge base is empty and the report is clean.
    """
    guard = state.require_guard()
    request = body if body is not None else AuditRequest()  # no body: every option at its default

    def work() -> AuditReport:
        return guard.audit(
            reembed=request.reembed,
            quarantine=request.quarantine,
            shard=request.shard,
            full_rescan=request.full_rescan,
            restamp=request.restamp,
        )

    def nothing_stored() -> AuditReport:
        return _empty_audit(guard, request)

    if request.quarantine or request.restamp:  # both write to the store
        async with state.write_lock():
            report = await _or_empty(guard, work, nothing_stored)
    else:
        report = await _or_empty(guard, work, nothing_stored)
    return AuditResponse(exit_code=report.exit_code, report=report.to_dict())


def _empty_audit(guard: Guard, body: AuditRequest) -> AuditReport:
    """The clean report of a store nothing was ingested into yet (its collections do not exist)."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return AuditReport(
        collection=guard.collection_name,
        started_at=now,
        finished_at=now,
        counts=AuditCounts(),
        integrity_failures=(),
        findings=(),
        moved=(),
        detectors=tuple(detector_info(d) for d in guard.detectors),
        policy_version=guard.policy.version,
        shard=body.shard,
        reembed=body.reembed,
        full_rescan=body.full_rescan,
    )
