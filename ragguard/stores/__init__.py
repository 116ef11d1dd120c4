"""Vector-store adapters ragguard plugs into: Chroma (embedded or server) and in-memory."""

from ragguard.stores.base import (
    QUARANTINE_SUFFIX,
    Collection,
    Neighbours,
    StoreClient,
    StoreView,
    iter_id_batches,
    iter_id_pages,
    iter_pages,
)
from ragguard.stores.chroma import ChromaCollection, ChromaStore
from ragguard.stores.memory import InMemoryCollection, InMemoryStore

__all__ = [
    "QUARANTINE_SUFFIX",
    "ChromaCollection",
    "ChromaStore",
    "Collection",
    "InMemoryCollection",
    "InMemoryStore",
    "Neighbours",
    "StoreClient",
    "StoreView",
    "iter_id_batches",
    "iter_id_pages",
    "iter_pages",
]
