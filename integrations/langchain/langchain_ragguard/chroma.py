"""A ``langchain_chroma.Chroma`` vector store over a ragguard guard's own collection.

Needs the ``chroma`` extra (``langchain-chroma``); imported only by
:meth:`GuardedRetriever.from_guard` and :func:`guard_vectorstore`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ragguard.guard import Guard
from ragguard.stores.chroma import ChromaStore

from langchain_ragguard.embeddings import RagguardEmbeddings

if TYPE_CHECKING:
    from langchain_chroma import Chroma


def guard_vectorstore(guard: Guard) -> Chroma:
    """The guard's served collection as a LangChain ``Chroma`` vector store (for reading).

    It shares the guard's chromadb client (embedded path or server) and embeds
    queries with the guard's embedder. Wrap its retriever in
    :class:`~langchain_ragguard.GuardedRetriever`; never write through it (what
    is written around the guard is unsealed and never served).

    Raises:
        TypeError: If the guard's store is not Chroma.
        ImportError: If ``langchain-chroma`` is not installed.
        ragguard.StoreError: If the store or its collection does not exist
            (a retriever does not create an empty knowledge base by accident).
    """
    try:
        from langchain_chroma import Chroma
    except ImportError as exc:  # name the extra, not just the module
        raise ImportError(
            "GuardedRetriever.from_guard needs langchain-chroma: pip install 'langchain-ragguard[chroma]'"
        ) from exc
    store = guard.store
    if not isinstance(store, ChromaStore):
        raise TypeError(
            f"from_guard needs a Chroma-backed guard, not {store.describe()}; use RagguardRetriever(guard=...) instead"
        )
    guard.collections(create=False)  # raises StoreError naming the store when it does not exist
    client = _client(store)
    return Chroma(
        collection_name=guard.collection_name,
        client=client,
        embedding_function=RagguardEmbeddings(guard.embedder),
        # The collection exists (checked above); should it vanish, re-create it the way
        # ragguard does: inner-product space, so Chroma hands back the exact sealed bytes.
        collection_configuration={"hnsw": {"space": "ip"}},
    )


def _client(store: ChromaStore) -> Any:
    """The chromadb client the guard already holds.

    ragguard has no public accessor for it yet, so this uses the store's
    connect method; sharing one client keeps a single embedded-database
    instance per path (chromadb refuses a second one with other settings).
    """
    return store.client(create=False)
