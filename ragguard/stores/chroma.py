"""Chroma adapter: embedded (``PersistentClient``) or server (``HttpClient``).

Vectors are always passed in: Chroma's default embedding function downloads a
model, which fails offline and would put an unverified embedder in the chain.

Collections use the inner-product space, not ``cosine``: in cosine space Chroma
re-normalises every vector, which moves about half the components by one
float32 ULP, so the vector read back no longer matches its sealed digest.
ragguard's embedders return unit vectors, for which ``1 - dot`` *is* the
cosine distance, and in ``ip`` space Chroma hands back the exact bytes stored.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np
import numpy.typing as npt

from ragguard._cpus import usable_cpus
from ragguard.errors import StoreError
from ragguard.types import MetadataValue, StoredChunk

_INCLUDE_ALL: list[Any] = ["documents", "metadatas", "embeddings"]
T = TypeVar("T")
#: Query vectors per Chroma call (see ChromaCollection.query).
QUERY_BATCH = 64
#: Threads for a batch of several such calls (0: one per CPU, at most 8).
QUERY_THREADS = 0


def _store_errors(fn: Callable[..., T]) -> Callable[..., T]:
    """Re-raise chromadb's errors (a server gone away, a corrupt database) as StoreError."""

    @functools.wraps(fn)
    def wrapper(self: ChromaCollection, *args: Any, **kwargs: Any) -> T:
        try:
            return fn(self, *args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"Chroma collection {self.name!r}: {type(exc).__name__}: {exc}") from exc

    return wrapper


class ChromaCollection:
    """A Chroma collection behind the :class:`~ragguard.stores.base.Collection` protocol."""

    def __init__(self, collection: Any) -> None:
        self._col = collection
        self.name: str = collection.name

    @_store_errors
    def add(
        self,
        ids: Sequence[str],
        embeddings: npt.NDArray[np.float32],
        documents: Sequence[str],
        metadatas: Sequence[Mapping[str, MetadataValue]],
    ) -> None:
        """Insert chunks (Chroma leaves ids already present untouched)."""
        if not ids:
            return
        self._col.add(
            ids=list(ids),
            embeddings=np.asarray(embeddings, dtype=np.float32),
            documents=list(documents),
            metadatas=[dict(m) for m in metadatas],
        )

    @_store_errors
    def replace_metadata(
        self,
        ids: Sequence[str],
        metadatas: Sequence[Mapping[str, MetadataValue]],
        *,
        expected: Sequence[Mapping[str, MetadataValue]] | None = None,
    ) -> list[str]:
        """Replace each chunk's whole metadata in one update; text and vector stay (see the protocol).

        Chroma's update merges metadata and deletes a key set to ``None``, so the
        keys a chunk holds now and the new mapping lacks are sent as ``None``.
        """
        current = self._col.get(ids=list(ids), include=["metadatas"])
        old = {cid: dict(m or {}) for cid, m in zip(current["ids"], current["metadatas"] or [], strict=True)}
        keep = [
            (cid, meta)
            for i, (cid, meta) in enumerate(zip(ids, metadatas, strict=True))
            if cid in old and (expected is None or dict(expected[i]) == old[cid])
        ]
        if keep:
            self._col.update(
                ids=[cid for cid, _ in keep],
                metadatas=[{**{k: None for k in old[cid] if k not in meta}, **meta} for cid, meta in keep],
            )
        return [cid for cid, _ in keep]

    @_store_errors
    def existing(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are present."""
        if not ids:
            return set()
        return set(self._col.get(ids=list(ids), include=[])["ids"])

    @_store_errors
    def get(self, ids: Sequence[str], *, include_embeddings: bool = True) -> list[StoredChunk]:
        """Chunks by id, with vectors unless told not to."""
        if not ids:
            return []
        include = _INCLUDE_ALL if include_embeddings else ["documents", "metadatas"]
        return _rows(self._col.get(ids=list(ids), include=include))

    @_store_errors
    def query(
        self, embeddings: npt.NDArray[np.float32], n: int, *, include_embeddings: bool = True
    ) -> list[list[StoredChunk]]:
        """kNN through Chroma's HNSW index, with distances (and vectors unless told not to).

        Queries go in groups of ``QUERY_BATCH``: Chroma resolves a query batch's
        results in one SQL statement and refuses one with too many variables.
        """
        q = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        if n <= 0 or len(q) == 0:
            return [[] for _ in q]
        include = [*(_INCLUDE_ALL if include_embeddings else ["documents", "metadatas"]), "distances"]

        def one(part: npt.NDArray[np.float32]) -> list[list[StoredChunk]]:
            res = self._col.query(query_embeddings=part, n_results=n, include=include)
            rows = []
            for i in range(len(part)):
                row = {
                    key: (res[key][i] if res.get(key) is not None else None)
                    for key in ("ids", "documents", "metadatas", "embeddings")
                }
                rows.append(_rows(row, distances=res["distances"][i]))
            return rows

        return _batched(one, q)

    @_store_errors
    def nearest_ids(self, embeddings: npt.NDArray[np.float32], n: int) -> list[list[tuple[str, float]]]:
        """kNN through Chroma's HNSW index: ids and distances only (no SQL read of documents or metadata)."""
        q = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        if n <= 0 or len(q) == 0:
            return [[] for _ in q]

        def one(part: npt.NDArray[np.float32]) -> list[list[tuple[str, float]]]:
            res = self._col.query(query_embeddings=part, n_results=n, include=["distances"])
            dists = res["distances"] or []
            return [
                [(str(i), float(d)) for i, d in zip(ids, ds, strict=True)]
                for ids, ds in zip(res["ids"], dists, strict=True)
            ]

        return _batched(one, q)

    @_store_errors
    def page(self, offset: int, limit: int, *, include_embeddings: bool = True) -> list[StoredChunk]:
        """A page of chunks in Chroma's stable internal order."""
        include = _INCLUDE_ALL if include_embeddings else ["documents", "metadatas"]
        return _rows(self._col.get(offset=offset, limit=limit, include=include))

    @_store_errors
    def page_ids(self, offset: int, limit: int) -> list[str]:
        """A page of ids in the order of :meth:`page`."""
        return [str(i) for i in self._col.get(offset=offset, limit=limit, include=[])["ids"]]

    @_store_errors
    def delete(self, ids: Sequence[str]) -> None:
        """Remove chunks by id."""
        if ids:
            self._col.delete(ids=list(ids))

    @_store_errors
    def count(self) -> int:
        """Number of chunks."""
        return int(self._col.count())

    @property
    def native(self) -> Any:
        """The underlying ``chromadb`` collection (for adapters and tests)."""
        return self._col


def _batched(fn: Callable[[npt.NDArray[np.float32]], list[T]], q: npt.NDArray[np.float32]) -> list[T]:
    """``fn`` over each ``QUERY_BATCH`` slice of ``q``, rows in query order; several slices run in threads.

    Chroma answers a batch of query vectors one after another on one core, and
    releases the GIL while it searches, so threads multiply a big batch's rate
    by about the number of cores (a batch of 500 on the 100k bench store, 2
    cores: 558 to 1,235 queries/s). A single query, the retrieval path, stays
    in the calling thread.
    """
    parts = [q[start : start + QUERY_BATCH] for start in range(0, len(q), QUERY_BATCH)]
    threads = min(len(parts), QUERY_THREADS or min(usable_cpus(), 8))
    if threads <= 1:
        return [row for p in parts for row in fn(p)]
    with cf.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ragguard-knn") as pool:
        return [row for rows in pool.map(fn, parts) for row in rows]


def _rows(res: Mapping[str, Any], distances: Sequence[float] | None = None) -> list[StoredChunk]:
    ids = res["ids"]
    docs = res.get("documents")
    metas = res.get("metadatas")
    embs = res.get("embeddings")
    out = []
    for i, cid in enumerate(ids):
        emb = None if embs is None else np.asarray(embs[i], dtype=np.float32)
        out.append(
            StoredChunk(
                id=cid,
                text=docs[i] if docs is not None and docs[i] is not None else "",
                embedding=emb,
                metadata=dict(metas[i] or {}) if metas is not None else {},
                distance=float(distances[i]) if distances is not None else None,
            )
        )
    return out


class ChromaStore:
    """Chroma, embedded at ``path`` or as a server at ``url``. Connects lazily."""

    def __init__(self, *, path: Path | str | None = None, url: str | None = None) -> None:
        if (path is None) == (url is None):
            raise StoreError("give exactly one of a store path or a Chroma server URL")
        self.path = Path(path) if path is not None else None
        self.url = url
        self._client: Any = None
        # First use from several threads at once must make one client (chromadb's own
        # creation is not safe to race).
        self._connecting = threading.Lock()

    def describe(self) -> str:
        """Where the store is (the URL without credentials)."""
        if self.url is not None:
            u = urlparse(self.url)
            return f"Chroma server {u.scheme}://{u.hostname}:{u.port}"
        return f"Chroma store {self.path}"

    def _connect(self, *, create: bool) -> Any:
        if self._client is not None:
            return self._client
        with self._connecting:
            if self._client is None:
                self._client = self._new_client(create)
        return self._client

    def _new_client(self, create: bool) -> Any:
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False, allow_reset=False)
        try:
            if self.url is not None:
                u = urlparse(self.url)
                if u.scheme not in ("http", "https") or not u.hostname:
                    raise StoreError(f"not a Chroma server URL: {self.url!r} (expected http://HOST:PORT)")
                client = chromadb.HttpClient(
                    host=u.hostname,
                    port=u.port or (443 if u.scheme == "https" else 8000),
                    ssl=u.scheme == "https",
                    settings=settings,
                )
                client.heartbeat()
            else:
                assert self.path is not None
                if not create and not (self.path / "chroma.sqlite3").exists():
                    raise StoreError(f"no ragguard store at {self.path} (run `ragguard ingest` to create one)")
                self.path.mkdir(parents=True, exist_ok=True)
                try:
                    client = chromadb.PersistentClient(path=str(self.path), settings=settings)
                except ValueError as exc:
                    # chromadb keeps one client per path per process: if the application
                    # (a LangChain Chroma, say) opened this path with other settings, share it.
                    if "already exists" not in str(exc):
                        raise
                    client = chromadb.PersistentClient(path=str(self.path))
        except StoreError:
            raise
        except Exception as exc:  # chromadb raises many types; name the store, not internals
            raise StoreError(f"cannot open {self.describe()}: {exc}") from exc
        return client

    def client(self, *, create: bool = False) -> Any:
        """The underlying ``chromadb`` client (connecting on first use), for adapters.

        Raises:
            StoreError: If the store cannot be opened (or, with ``create=False``,
                an embedded store does not exist yet).
        """
        return self._connect(create=create)

    def has_collection(self, name: str) -> bool:
        """True if the collection exists (False when an embedded store does not exist yet)."""
        if self.path is not None and not (self.path / "chroma.sqlite3").exists():
            return False
        client = self._connect(create=False)
        try:
            listed = client.list_collections()
        except Exception as exc:  # a server gone away since the client connected
            raise StoreError(f"cannot list the collections of {self.describe()}: {exc}") from exc
        return name in {c if isinstance(c, str) else c.name for c in listed}

    def collection(self, name: str, *, create: bool) -> ChromaCollection:
        """Open (or create, inner-product space, no embedding function) a collection."""
        client = self._connect(create=create)
        try:
            if create:
                col = client.get_or_create_collection(
                    name, embedding_function=None, configuration={"hnsw": {"space": "ip"}}
                )
            else:
                col = client.get_collection(name, embedding_function=None)
        except Exception as exc:
            if not create and "does not exist" in str(exc):
                raise StoreError(f"collection {name!r} does not exist in {self.describe()}") from None
            raise StoreError(f"cannot open collection {name!r} in {self.describe()}: {exc}") from exc
        return ChromaCollection(col)
