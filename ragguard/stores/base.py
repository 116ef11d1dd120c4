"""The store extension point: a collection of chunks with vectors and metadata.

ragguard always hands vectors to the store (it never lets the store embed),
and reads them back to verify the seal.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

from ragguard.types import MetadataValue, StoredChunk

QUARANTINE_SUFFIX = "__quarantine"
#: The largest page offset or size a caller may ask a store for: Chroma counts both in 32 bits.
MAX_PAGE = 2**32 - 1
log = logging.getLogger(__name__)
T = TypeVar("T")
#: Seconds an early-stopped walk waits for its reader thread's read in progress.
READ_AHEAD_STOP_WAIT = 30.0


@runtime_checkable
class Collection(Protocol):
    """One named collection of a vector store."""

    name: str

    def add(
        self,
        ids: Sequence[str],
        embeddings: npt.NDArray[np.float32],
        documents: Sequence[str],
        metadatas: Sequence[Mapping[str, MetadataValue]],
    ) -> None:
        """Insert chunks; ids already present are left untouched."""
        ...

    def existing(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are present."""
        ...

    def replace_metadata(
        self,
        ids: Sequence[str],
        metadatas: Sequence[Mapping[str, MetadataValue]],
        *,
        expected: Sequence[Mapping[str, MetadataValue]] | None = None,
    ) -> list[str]:
        """Replace each chunk's whole metadata (keys not given are removed); text and vector stay.

        Missing ids are skipped, and so is a chunk whose current metadata differs from
        its ``expected`` entry when that is given. Used to re-seal in place
        (``ragguard reseal``).

        Returns:
            The ids whose metadata was replaced.
        """
        ...

    def get(self, ids: Sequence[str], *, include_embeddings: bool = True) -> list[StoredChunk]:
        """Read chunks by id (missing ids are skipped), with their vectors unless told not to."""
        ...

    def query(
        self, embeddings: npt.NDArray[np.float32], n: int, *, include_embeddings: bool = True
    ) -> list[list[StoredChunk]]:
        """The ``n`` nearest chunks (cosine distance) for each query vector.

        Vectors come back unless ``include_embeddings`` is False (detectors that
        only need neighbours' ids, distances and text skip the transfer).
        """
        ...

    def nearest_ids(self, embeddings: npt.NDArray[np.float32], n: int) -> list[list[tuple[str, float]]]:
        """The ``n`` nearest ``(id, cosine distance)`` pairs per query vector, nothing else.

        The cheap form of :meth:`query` for screening: most neighbours are too far
        to matter, and reading their text and metadata costs more than the search.
        """
        ...

    def page(self, offset: int, limit: int, *, include_embeddings: bool = True) -> list[StoredChunk]:
        """A page of chunks in a stable order."""
        ...

    def page_ids(self, offset: int, limit: int) -> list[str]:
        """A page of ids alone, in the order of :meth:`page` (the cheap listing streaming audits walk)."""
        ...

    def delete(self, ids: Sequence[str]) -> None:
        """Remove chunks by id (missing ids are ignored)."""
        ...

    def count(self) -> int:
        """Number of chunks."""
        ...


@runtime_checkable
class StoreClient(Protocol):
    """Opens collections of one store (an embedded database or a server)."""

    def collection(self, name: str, *, create: bool) -> Collection:
        """Open collection ``name``; with ``create=False`` a missing one raises StoreError."""
        ...

    def has_collection(self, name: str) -> bool:
        """True if collection ``name`` exists."""
        ...

    def describe(self) -> str:
        """Where the store is, for messages (never credentials)."""
        ...


@dataclass(frozen=True)
class Neighbours:
    """kNN results for a batch of query vectors: ``ids[i]``, ``distances[i]``, ... per query."""

    ids: list[list[str]]
    distances: list[list[float]]
    metadatas: list[list[Mapping[str, Any]]]
    texts: list[list[str]]


class StoreView:
    """Read-only view of the served and quarantine collections, for detectors.

    kNN goes through the store's own index (no full scans).

    Args:
        served: The served collection.
        quarantine: The quarantine collection, if any.
        seal_ok: Checks a stored chunk's seal (text, vector, metadata). When given,
            every chunk this view hands out whose seal does not verify comes with
            empty metadata, so no detector takes a planted chunk's claim to be
            ``trusted`` at its word; its vectors are then read with it.
    """

    def __init__(
        self,
        served: Collection,
        quarantine: Collection | None,
        *,
        seal_ok: Callable[[StoredChunk], bool] | None = None,
    ) -> None:
        self.served = served
        self.quarantine = quarantine
        self.seal_ok = seal_ok

    def checked(self, chunks: Sequence[StoredChunk]) -> list[StoredChunk]:
        """``chunks``, those whose seal does not verify with their metadata emptied (see ``seal_ok``)."""
        if self.seal_ok is None:
            return list(chunks)
        return [c if self.seal_ok(c) else dataclasses.replace(c, metadata={}) for c in chunks]

    def nearest(
        self,
        embeddings: npt.NDArray[np.float32],
        k: int,
        *,
        quarantined: bool = False,
        min_similarity: float | None = None,
        exclude: Sequence[str] | None = None,
    ) -> Neighbours:
        """The ``k`` nearest stored chunks to each vector (served, or quarantined).

        Args:
            embeddings: Query vectors, one per row.
            k: Neighbours searched per vector.
            quarantined: Search the quarantine collection instead of the served one.
            min_similarity: Keep only neighbours at least this cosine-similar; their
                text and metadata are then read for those alone (one batched read),
                which is far cheaper than reading all ``k`` per vector.
            exclude: One id per vector, left out of that vector's neighbours (the
                chunk itself, when the audit screens what is stored); with
                ``min_similarity`` it is dropped before anything is read or checked.
        """
        col = self.quarantine if quarantined else self.served
        n = min(k, col.count()) if col is not None else 0
        if n <= 0 or col is None or len(embeddings) == 0:
            return Neighbours(
                ids=[[] for _ in embeddings],
                distances=[[] for _ in embeddings],
                metadatas=[[] for _ in embeddings],
                texts=[[] for _ in embeddings],
            )
        if min_similarity is not None:
            pairs = col.nearest_ids(embeddings, n)
            if exclude is not None:
                pairs = [[(i, d) for i, d in row if i != own] for row, own in zip(pairs, exclude, strict=True)]
            return _close(col, pairs, min_similarity, self.checked)
        found = col.query(embeddings, n, include_embeddings=self.seal_ok is not None)
        if exclude is not None:
            found = [[c for c in row if c.id != own] for row, own in zip(found, exclude, strict=True)]
        rows = [self.checked(row) for row in found]
        return Neighbours(
            ids=[[c.id for c in row] for row in rows],
            distances=[[float(c.distance if c.distance is not None else 1.0) for c in row] for row in rows],
            metadatas=[[c.metadata for c in row] for row in rows],
            texts=[[c.text for c in row] for row in rows],
        )


def _close(
    col: Collection,
    pairs: list[list[tuple[str, float]]],
    min_similarity: float,
    checked: Callable[[Sequence[StoredChunk]], list[StoredChunk]],
) -> Neighbours:
    """Neighbours at least ``min_similarity`` close, with their text and metadata read in one go."""
    kept = [[(i, d) for i, d in row if 1.0 - d >= min_similarity] for row in pairs]
    wanted = sorted({i for row in kept for i, _ in row})
    found = {c.id: c for c in checked(col.get(wanted))} if wanted else {}
    # A neighbour deleted between the search and the read is simply gone.
    kept = [[(i, d) for i, d in row if i in found] for row in kept]
    return Neighbours(
        ids=[[i for i, _ in row] for row in kept],
        distances=[[d for _, d in row] for row in kept],
        metadatas=[[found[i].metadata for i, _ in row] for row in kept],
        texts=[[found[i].text for i, _ in row] for row in kept],
    )


#: Ids listed per call when streaming. Chroma's offset paging skips rows one by
#: one (about 2 µs a row here), so listing ids in big pages and reading content
#: by id keeps the cost of a page flat in the store's size; 50k ids are ~5 MB.
ID_PAGE_SIZE = 50_000


#: Ids re-listed before each id page: a walk survives this many deletions of
#: already-listed chunks between two listings (they shift later ids back).
ID_PAGE_SLACK = 1000


def iter_id_pages(col: Collection, id_page_size: int = ID_PAGE_SIZE, slack: int = ID_PAGE_SLACK) -> Iterator[list[str]]:
    """Stream a collection's ids, ``id_page_size`` at a time (memory flat in collection size).

    Each listing starts ``slack`` ids before where the previous one ended and
    drops the ids that one already gave, so chunks deleted behind the walk
    (quarantine moves, a concurrent audit) do not make it skip the chunks that
    shift back into their place. Chunks added during the walk are appended by
    the store and are listed when the walk reaches them.
    """
    lister = getattr(col, "page_ids", None)
    if lister is None:  # a store written against the older protocol: list through page()

        def lister(offset: int, limit: int) -> list[str]:
            return [c.id for c in col.page(offset, limit, include_embeddings=False)]

    offset, prev_start, previous = 0, 0, frozenset[str]()
    while True:
        start = max(prev_start, offset - slack)
        listed = lister(start, id_page_size + (offset - start))
        fresh = [i for i in listed if i not in previous]
        if previous and listed and listed[0] not in previous:
            log.warning(
                "%s changed under the walk: more than %d chunks were deleted since the last listing; "
                "some chunks may not be visited",
                col.name,
                slack,
            )
        if not fresh:
            return
        yield fresh
        prev_start, offset, previous = start, start + len(listed), frozenset(listed)


def iter_id_batches(
    col: Collection,
    batch_size: int,
    *,
    keep: Callable[[str], bool] | None = None,
    id_page_size: int = ID_PAGE_SIZE,
) -> Iterator[tuple[list[str], int]]:
    """The collection's ids in batches of at most ``batch_size``, each with how many ids the walk has listed by then.

    ``keep`` chooses ids before any content is read, so a shard reads only its
    own. The count includes the ids ``keep`` passed over, so it serves as
    progress; an id page that keeps nothing yields one empty batch to report it.
    """
    listed = 0
    for ids in iter_id_pages(col, id_page_size):
        kept = ids if keep is None else [i for i in ids if keep(i)]
        if not kept:
            listed += len(ids)
            yield [], listed
            continue
        for start in range(0, len(kept), batch_size):
            end = min(start + batch_size, len(kept))
            yield kept[start:end], listed + len(ids) * end // len(kept)
        listed += len(ids)


def iter_pages(
    col: Collection,
    page_size: int = 1000,
    *,
    include_embeddings: bool = True,
    id_page_size: int = ID_PAGE_SIZE,
) -> Iterator[list[StoredChunk]]:
    """Stream a collection page by page (memory flat in collection size).

    Ids are listed in big pages and content is read by id, ``page_size`` chunks
    per read: reading content by offset gets slower the further in it reads.
    A chunk deleted between the listing and the read is skipped.
    """
    for ids, _ in iter_id_batches(col, page_size, id_page_size=id_page_size):
        # Only ask for what differs from the default: older stores take ``get(ids)`` alone.
        page = col.get(ids) if include_embeddings else col.get(ids, include_embeddings=False)
        if page:
            yield page


def read_ahead(items: Iterable[T], depth: int = 1, *, stop_wait: float = READ_AHEAD_STOP_WAIT) -> Iterator[T]:
    """Yield ``items`` while a background thread produces them ahead of the consumer.

    Store reads spend most of their time in native code that releases the GIL
    (Chroma's core, a socket), so reading the next page overlaps checking this
    one. Items come out in order; an exception raised while producing is raised
    here, at the item where it happened. At most ``depth + 2`` items exist at
    once: the one being consumed, ``depth`` queued, and the one the producer
    holds while it waits for room.

    When the consumer stops early (it breaks, fails, or closes the generator),
    the producer stops after the item in hand. This generator waits up to
    ``stop_wait`` seconds for that; a read that hangs longer (a server that
    stopped answering) is logged and left to its daemon thread, so the
    consumer's own error still surfaces.

    Args:
        items: What to produce ahead (typically a generator of store reads).
        depth: Items queued beyond the one being consumed; 0 reads in line.
        stop_wait: Seconds to wait for the producer when the consumer stops early.
    """
    if depth < 1:
        yield from items
        return
    ready: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(entry: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put((False, exc))
            return
        put((False, end))

    worker = threading.Thread(target=produce, name="ragguard-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            ok, value = ready.get()
            if ok:
                yield value
            elif value is end:
                return
            else:
                raise value
    finally:
        stop.set()
        worker.join(stop_wait)
        if worker.is_alive():
            log.warning("a store read still running %g s after the walk stopped was left to finish alone", stop_wait)
