"""An in-memory store with exact cosine kNN, for unit tests and small jobs."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ragguard.errors import StoreError
from ragguard.types import MetadataValue, StoredChunk


@dataclass
class _Row:
    text: str
    embedding: npt.NDArray[np.float32]
    metadata: dict[str, MetadataValue]


@dataclass
class InMemoryCollection:
    """A collection held in a dict; insertion order is the page order."""

    name: str
    _rows: dict[str, _Row] = field(default_factory=dict, repr=False)

    def add(
        self,
        ids: Sequence[str],
        embeddings: npt.NDArray[np.float32],
        documents: Sequence[str],
        metadatas: Sequence[Mapping[str, MetadataValue]],
    ) -> None:
        """Insert chunks; existing ids are left untouched (like Chroma's add)."""
        for i, cid in enumerate(ids):
            if cid not in self._rows:
                vec = np.asarray(embeddings[i], dtype=np.float32).copy()
                self._rows[cid] = _Row(documents[i], vec, dict(metadatas[i]))

    def existing(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are present."""
        return {i for i in ids if i in self._rows}

    def replace_metadata(
        self,
        ids: Sequence[str],
        metadatas: Sequence[Mapping[str, MetadataValue]],
        *,
        expected: Sequence[Mapping[str, MetadataValue]] | None = None,
    ) -> list[str]:
        """Replace each chunk's whole metadata; text and vector stay (see the protocol)."""
        done = []
        for i, (cid, meta) in enumerate(zip(ids, metadatas, strict=True)):
            row = self._rows.get(cid)
            if row is not None and (expected is None or dict(expected[i]) == row.metadata):
                self._rows[cid] = _Row(row.text, row.embedding, dict(meta))
                done.append(cid)
        return done

    def get(self, ids: Sequence[str], *, include_embeddings: bool = True) -> list[StoredChunk]:
        """Chunks by id, skipping missing ones."""
        return [self._chunk(i, with_embedding=include_embeddings) for i in ids if i in self._rows]

    def query(
        self, embeddings: npt.NDArray[np.float32], n: int, *, include_embeddings: bool = True
    ) -> list[list[StoredChunk]]:
        """Exact cosine kNN: one matrix product for the whole batch, a partial sort per query."""
        q = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        if not self._rows or n <= 0:
            return [[] for _ in q]
        ids = list(self._rows)
        mat = np.stack([np.asarray(self._rows[i].embedding, dtype=np.float32).reshape(-1) for i in ids])
        norms = np.linalg.norm(mat, axis=1)
        norms[norms == 0] = 1.0
        qn = np.linalg.norm(q, axis=1)
        qn[qn == 0] = 1.0
        dist = 1.0 - (q @ mat.T) / np.outer(qn, norms)
        n = min(n, len(ids))
        out = []
        for row in dist:
            top = np.argpartition(row, n - 1)[:n] if n < len(ids) else np.arange(len(ids))
            # Stable on ties (insertion order), like a full stable sort would be.
            order = top[np.lexsort((top, row[top]))]
            out.append([self._chunk(ids[j], float(row[j]), with_embedding=include_embeddings) for j in order])
        return out

    def nearest_ids(self, embeddings: npt.NDArray[np.float32], n: int) -> list[list[tuple[str, float]]]:
        """Exact cosine kNN, ids and distances only."""
        return [
            [(c.id, float(c.distance or 0.0)) for c in row]
            for row in self.query(embeddings, n, include_embeddings=False)
        ]

    def page(self, offset: int, limit: int, *, include_embeddings: bool = True) -> list[StoredChunk]:
        """Chunks ``[offset, offset + limit)`` in insertion order."""
        return [self._chunk(i, with_embedding=include_embeddings) for i in self.page_ids(offset, limit)]

    def page_ids(self, offset: int, limit: int) -> list[str]:
        """Ids ``[offset, offset + limit)`` in insertion order."""
        if offset >= len(self._rows):
            return []
        return list(itertools.islice(self._rows, offset, min(offset + limit, len(self._rows))))

    def delete(self, ids: Sequence[str]) -> None:
        """Remove chunks by id."""
        for i in ids:
            self._rows.pop(i, None)

    def count(self) -> int:
        """Number of chunks."""
        return len(self._rows)

    # Test helpers: direct writes that bypass the guard, like an attacker would.
    def raw_set(self, cid: str, text: str, embedding: npt.ArrayLike, metadata: Mapping[str, MetadataValue]) -> None:
        """Write or overwrite a row without any checks (for tampering tests)."""
        self._rows[cid] = _Row(text, np.asarray(embedding, dtype=np.float32), dict(metadata))

    def _chunk(self, cid: str, distance: float | None = None, *, with_embedding: bool = True) -> StoredChunk:
        row = self._rows[cid]
        emb = row.embedding.copy() if with_embedding else None
        return StoredChunk(id=cid, text=row.text, embedding=emb, metadata=dict(row.metadata), distance=distance)


@dataclass
class InMemoryStore:
    """A :class:`~ragguard.stores.base.StoreClient` over in-memory collections."""

    _collections: dict[str, InMemoryCollection] = field(default_factory=dict, repr=False)

    def collection(self, name: str, *, create: bool) -> InMemoryCollection:
        """Open (or create) a collection."""
        if name not in self._collections:
            if not create:
                raise StoreError(f"collection {name!r} does not exist in the in-memory store")
            self._collections[name] = InMemoryCollection(name)
        return self._collections[name]

    def has_collection(self, name: str) -> bool:
        """True if the collection exists."""
        return name in self._collections

    def describe(self) -> str:
        """A label for messages."""
        return "in-memory store"
