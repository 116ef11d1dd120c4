"""``--quarantine``: move offenders out of the served collection without ever deleting data.

Order is copy, confirm, delete, so a crash at any point leaves every chunk in
at least one collection, and running the audit again finishes the job (the
copy is deterministic, so a second copy is recognised as the same data).

A re-sealed copy is first signed as a move in progress (``review`` is
:data:`MOVING`) and signed again without it once the served copy is gone. A
crash between the two leaves the chunk in both collections with that signed
mark on the quarantine side, so the next audit knows its own unfinished move
(:func:`unfinished`) and finishes it (:data:`FINISH`) instead of reporting the
chunk as tampering. Without the mark, a chunk in both collections is what a
replay of a moved chunk into the served collection looks like, and stays an
integrity failure.

* A chunk with a valid seal and new findings is re-sealed with action
  ``quarantine`` and today's score and findings (like :meth:`Guard.release`
  in reverse) and can be released by a reviewer as usual.
* A chunk that fails integrity is copied **as-is**, plus one ``audit_reason``
  metadata key: we must never sign tampered content. ``release`` refuses it
  (its seal fails); ``quarantine show`` / ``purge`` handle it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ragguard.audit.results import MovedChunk
from ragguard.provenance.canonical import canonical_bytes, embedding_digest, text_digest
from ragguard.provenance.seal import encode_findings, seal, split_metadata, verify
from ragguard.quarantine import AUDIT_REASON_KEY
from ragguard.stores.base import Collection
from ragguard.types import Action, StoredChunk, Verdict
from ragguard.writer import MAX_SEALED_FINDINGS

if TYPE_CHECKING:
    from ragguard.guard import Guard

log = logging.getLogger(__name__)

RESEALED = "resealed"
COPIED_AS_IS = "copied_as_is"
#: Plan for a move an earlier audit left half done: the copy is held; delete the served one.
FINISH = "finished"
#: The ``review`` a re-sealed copy carries until its served copy is deleted.
MOVING = "moving out of the served collection"


@dataclass(frozen=True)
class MovePlan:
    """A chunk to move, decided during the walk and carried out after it.

    Moves wait until the walk is over because deleting from the collection
    being paged would shift the offsets and skip chunks.

    Attributes:
        chunk_id: Id in the served collection.
        text_sha256: Digest of the text as audited; a chunk changed since is left for the next audit.
        how: :data:`RESEALED` or :data:`COPIED_AS_IS`.
        reason: Rule code or integrity reason, recorded in the report (and in ``audit_reason``).
        verdict: Today's verdict (re-sealed chunks only).
    """

    chunk_id: str
    text_sha256: str
    how: str
    reason: str
    verdict: Verdict | None = None


def execute(guard: Guard, served: Collection, quarantine: Collection, plans: Sequence[MovePlan]) -> list[MovedChunk]:
    """Carry out the plans in batches; returns what was moved."""
    moved: list[MovedChunk] = []
    size = guard.settings.batch_size
    for start in range(0, len(plans), size):
        moved.extend(_batch(guard, served, quarantine, plans[start : start + size]))
    return moved


def _batch(guard: Guard, served: Collection, quarantine: Collection, plans: Sequence[MovePlan]) -> list[MovedChunk]:
    found = {c.id: c for c in served.get([p.chunk_id for p in plans])}
    held = {c.id: c for c in quarantine.get([p.chunk_id for p in plans])}
    copies: list[tuple[MovePlan, str, StoredChunk, dict[str, Any], str]] = []
    for plan in plans:
        chunk = found.get(plan.chunk_id)
        if chunk is None or text_digest(chunk.text) != plan.text_sha256:
            continue  # already moved, or changed since it was audited: the next audit decides
        if plan.how == FINISH:
            if chunk.id in held:
                copies.append((plan, FINISH, chunk, dict(held[chunk.id].metadata), chunk.id))
            continue
        how, meta = _target(guard, chunk, plan)
        qid = _target_id(chunk, meta, held.get(chunk.id))
        copies.append((plan, how, chunk, meta, qid))
    for _, _, chunk, meta, qid in copies:
        if qid == chunk.id and chunk.id in held:
            continue  # the same data is already held there (an earlier run, or a copy of it)
        try:
            quarantine.add([qid], np.asarray([chunk.embedding], dtype=np.float32), [chunk.text], [meta])
        except Exception:  # e.g. a tampered vector of another size: it stays served, and reported
            log.exception("audit could not copy chunk %s to quarantine; it stays in the served collection", chunk.id)
    # Delete only what is confirmed to be held in quarantine.
    present = quarantine.existing([qid for *_, qid in copies])
    done = [(plan, how, chunk, qid) for plan, how, chunk, _, qid in copies if qid in present]
    served.delete([chunk.id for _, _, chunk, _ in done])
    settle(guard, quarantine, [qid for _, how, _, qid in done if how in (RESEALED, FINISH)])
    return [MovedChunk(chunk.id, qid, how, plan.reason) for plan, how, chunk, qid in done]


def unfinished(guard: Guard, copies: Sequence[StoredChunk]) -> dict[str, tuple[str, str]]:
    """Of quarantined ``copies``, those that are an audit's move still marked in progress.

    Returns:
        Per id, the ``(text, vector)`` digests its copy was sealed with (a served copy must match them).
    """
    keyring = guard.keyring()
    out: dict[str, tuple[str, str]] = {}
    for c in copies:
        prov, reason = verify(c.id, c.text, c.embedding, c.metadata, keyring)
        if reason is None and prov is not None and prov.review == MOVING and prov.action is Action.QUARANTINE:
            out[c.id] = (prov.text_sha256, prov.embedding_sha256)
    return out


def settle(guard: Guard, quarantine: Collection, ids: Sequence[str]) -> None:
    """Sign the quarantine copies of finished moves again without the :data:`MOVING` mark."""
    if not ids or not hasattr(quarantine, "replace_metadata"):
        return
    keyring = guard.keyring()
    out_ids, metas, expected = [], [], []
    for c in quarantine.get(list(ids)):
        prov, reason = verify(c.id, c.text, c.embedding, c.metadata, keyring)
        if reason is None and prov is not None and prov.review == MOVING:
            _, user = split_metadata(c.metadata)
            out_ids.append(c.id)
            metas.append({**user, **seal(dataclasses.replace(prov, review=""), keyring)})
            expected.append(c.metadata)
    if out_ids:
        quarantine.replace_metadata(out_ids, metas, expected=expected)


def _target(guard: Guard, chunk: StoredChunk, plan: MovePlan) -> tuple[str, dict[str, Any]]:
    """The metadata the quarantine copy gets, and how it was made."""
    if plan.how == RESEALED and plan.verdict is not None:
        keyring = guard.keyring()
        prov, reason = verify(chunk.id, chunk.text, chunk.embedding, chunk.metadata, keyring)
        if reason is None and prov is not None:
            v = plan.verdict
            requarantined = dataclasses.replace(
                prov,
                action=Action.QUARANTINE,
                score=round(v.score, 6),
                findings=encode_findings(v.findings, MAX_SEALED_FINDINGS),
                policy_version=guard.screen_version,
                review=MOVING,  # signed again without it once the served copy is deleted (settle)
            )
            _, user = split_metadata(chunk.metadata)
            return RESEALED, {**user, **seal(requarantined, keyring)}
    # Integrity failure (or a seal that broke since the walk): never re-sign.
    return COPIED_AS_IS, {**chunk.metadata, AUDIT_REASON_KEY: plan.reason}


def _target_id(chunk: StoredChunk, meta: Mapping[str, Any], existing: StoredChunk | None) -> str:
    """The chunk's own id, unless the quarantine holds different data under it.

    Then a derived id (deterministic, so a rerun finds its own earlier copy):
    overwriting or skipping would lose one of the two versions.
    """
    if existing is None or _same(existing, chunk, meta):
        return chunk.id
    h = hashlib.sha256()
    h.update(chunk.text.encode("utf-8"))
    h.update(_emb_key(chunk.embedding).encode())
    h.update(canonical_bytes(_without_reason(meta)))
    return f"{chunk.id}~audit-{h.hexdigest()[:12]}"


def _same(existing: StoredChunk, chunk: StoredChunk, meta: Mapping[str, Any]) -> bool:
    return (
        existing.text == chunk.text
        and _emb_key(existing.embedding) == _emb_key(chunk.embedding)
        and _without_reason(existing.metadata) == _without_reason(meta)
    )


def _without_reason(meta: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k != AUDIT_REASON_KEY}


def _emb_key(vec: Any) -> str:
    try:
        return embedding_digest(vec)
    except (TypeError, ValueError):
        return "unreadable"
