"""Adopting an unguarded Chroma collection: re-embed, screen, seal, and serve only what passes.

A collection built without ragguard (e.g. by LangChain's Chroma integration)
has no seals, and its vectors come from an embedder nobody verified, so they
are never read: every document is re-embedded by the guard's own (digest
pinned) embedder and goes through the ordinary ingest gate. The source
collection is only read, never written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ragguard.errors import InputError
from ragguard.provenance.seal import PREFIX
from ragguard.records import InputRecord, validate_metadata, validate_text
from ragguard.stores.base import QUARANTINE_SUFFIX, iter_pages
from ragguard.types import Action, MetadataValue, RecordVerdict, TrustTier

if TYPE_CHECKING:
    from ragguard.guard import Guard

#: Metadata key the LangChain integration (and most loaders) use for the document's origin.
SOURCE_KEY = "source"
#: Flagged documents an :class:`AdoptReport` lists with their verdicts (the rest are counted).
MAX_FLAGGED = 1000


@dataclass(frozen=True)
class AdoptReport:
    """What :meth:`ragguard.Guard.adopt` did.

    Attributes:
        from_collection: The unguarded collection that was read (left untouched).
        read: Documents read from it.
        skipped: Documents that could not be adopted (empty text), left behind.
        allowed: Chunks sealed into the served collection. The chunk counts need not
            add up to the documents: a document may be cut into several chunks, and
            identical chunks (the same text from the same source) are stored once.
        quarantined: Chunks sealed into the quarantine collection.
        rejected: Chunks refused.
        unchanged: Chunks already in the guarded store (adopting twice adds nothing).
        flagged: Verdicts of the documents today's screen quarantines or rejects, with
            their findings, whether stored now or already guarded by an earlier adopt (the
            first :data:`MAX_FLAGGED`, in reading order).
        flagged_not_listed: Flagged documents beyond those.
    """

    from_collection: str
    read: int
    skipped: int
    allowed: int
    quarantined: int
    rejected: int
    unchanged: int
    flagged: tuple[RecordVerdict, ...] = ()
    flagged_not_listed: int = 0

    def counts(self) -> dict[str, int]:
        """Counts, for summaries and ``--json``."""
        return {
            "read": self.read,
            "skipped": self.skipped,
            "allowed": self.allowed,
            "quarantined": self.quarantined,
            "rejected": self.rejected,
            "unchanged": self.unchanged,
        }

    def summary(self) -> str:
        """One line for humans (documents read and skipped; what became of their chunks)."""
        return (
            f"adopted {self.read - self.skipped} of {self.read} documents from {self.from_collection!r} "
            f"({self.skipped} skipped); their chunks: {self.allowed} served, {self.quarantined} quarantined, "
            f"{self.rejected} rejected, {self.unchanged} already stored (identical chunks count once)"
        )


def _record(cid: str, text: str, meta: dict[str, Any], default_source: str) -> InputRecord | None:
    """An input record for one foreign document, or None when it cannot be adopted."""
    try:
        validate_text(text, f"document {cid!r}")
    except InputError:
        return None
    src = meta.get(SOURCE_KEY)
    source = src if isinstance(src, str) and src else default_source
    # A foreign rg_ key is a claimed seal, worth nothing: dropped, never carried over.
    user = {k: v for k, v in meta.items() if not k.startswith(PREFIX) and isinstance(v, (str, int, float, bool))}
    try:
        clean: dict[str, MetadataValue] = validate_metadata(user, f"document {cid!r}")
    except InputError:
        clean = {}
    return InputRecord(id=cid, text=text, source=source, metadata=clean)


def adopt_collection(
    guard: Guard,
    collection_name: str,
    *,
    trust: TrustTier | str | None = None,
    source: str | None = None,
    page_size: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> AdoptReport:
    """Screen an unguarded collection of the guard's store and bring it under the guard.

    Args:
        guard: The guard whose store holds the collection and receives the chunks.
        collection_name: The unguarded collection.
        trust: Requested trust tier (configuration can lower it).
        source: Source URI for documents without a ``source`` metadata key
            (default ``chroma:<collection_name>``).
        page_size: Documents read per page (memory is flat in collection size).
        progress: Called with (documents done, documents total).

    Raises:
        StoreError: If the collection does not exist.
        ValueError: If it is the guard's own served or quarantine collection.
    """
    if collection_name in (guard.collection_name, guard.collection_name + QUARANTINE_SUFFIX):
        raise ValueError(f"{collection_name!r} is the guard's own collection; adopt reads a foreign one")
    foreign = guard.store.collection(collection_name, create=False)
    default_source = source or f"chroma:{collection_name}"
    total = foreign.count()
    read = skipped = 0
    sums = {"allowed": 0, "quarantined": 0, "rejected": 0, "unchanged": 0}
    flagged: list[RecordVerdict] = []
    not_listed = 0
    # Foreign vectors are never read (include_embeddings=False): they are not trusted.
    for page in iter_pages(foreign, page_size, include_embeddings=False):
        read += len(page)
        records = [r for c in page if (r := _record(c.id, c.text, dict(c.metadata), default_source)) is not None]
        skipped += len(page) - len(records)
        if records:
            report = guard.ingest(records, trust=trust)
            counts = report.counts()
            for k in sums:
                sums[k] += counts[k]
            # What a reviewer needs next: which documents were held back, and why (memory stays bounded).
            held = [v for v in report.records if v.action is not Action.ALLOW]
            room = max(0, MAX_FLAGGED - len(flagged))
            flagged.extend(held[:room])
            not_listed += len(held) - len(held[:room])
        if progress is not None:
            progress(read, max(total, read))
    return AdoptReport(collection_name, read, skipped, **sums, flagged=tuple(flagged), flagged_not_listed=not_listed)
