"""Retrievers that serve only what ragguard's retrieval filter lets through.

:class:`GuardedRetriever` wraps any LangChain retriever whose documents carry
the ragguard chunk id (``Document.id``), first of all a
``langchain_chroma.Chroma`` retriever over the guard's own collection. Each
returned document is re-read from the served collection, with its vector, and
checked against its seal; anything unsealed, altered, quarantined or revoked is
dropped. :class:`RagguardRetriever` goes straight through ``Guard.search``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.config import run_in_executor
from langchain_core.vectorstores import VectorStoreRetriever
from pydantic import ConfigDict, Field
from ragguard.guard import Guard
from ragguard.provenance.seal import from_metadata, split_metadata
from ragguard.types import Drop, DropReason, Hit, SearchResult, StoredChunk

from langchain_ragguard.events import FilterReport, aemit, emit

if TYPE_CHECKING:
    from langchain_core.callbacks import AsyncCallbackManager, CallbackManager

__all__ = ["GuardedRetriever", "RagguardRetriever"]

#: How much the fetch window grows each time too few documents pass.
WIDEN_FACTOR = 4
#: The default ``fetch_k`` of LangChain's MMR search, which must stay >= ``k``.
_MMR_FETCH_K = 20

_Verified = tuple[StoredChunk | None, DropReason | None]


def initial_window(k: int) -> int:
    """First over-fetch size for ``k`` results (the same rule as ``Guard.search``)."""
    return max(2 * k, k + 10)


def chunk_document(chunk: StoredChunk) -> Document:
    """A LangChain document built from a *verified* stored chunk.

    Text and metadata come from the store, not from the wrapped retriever, so
    nothing unverified rides along. Caller metadata is kept; ``source``,
    ``doc_id`` and ``chunk_index`` come from the sealed provenance and win
    over caller keys of the same name. ``rg_`` seal fields are left out.
    """
    prov = from_metadata(chunk.metadata)
    _, user = split_metadata(chunk.metadata)
    meta = {**user, "source": prov.source, "doc_id": prov.doc_id, "chunk_index": prov.chunk_index}
    return Document(id=chunk.id, page_content=chunk.text, metadata=meta)


def hit_document(hit: Hit) -> Document:
    """A LangChain document for a ``Guard.search`` hit (same metadata layout as :func:`chunk_document`)."""
    meta = {**hit.metadata, "source": hit.source, "doc_id": hit.doc_id, "chunk_index": hit.chunk_index}
    return Document(id=hit.id, page_content=hit.text, metadata=meta)


@dataclass
class _Call:
    """State of one guarded retrieval. Lives on the stack, never on the retriever."""

    k: int
    window: int
    max_fetch: int | None
    widenable: bool
    verified: dict[str, _Verified] = field(default_factory=dict)
    rounds: int = 0
    fetched: int = 0
    exhausted: bool = False
    kept: list[Document] = field(default_factory=list)
    dropped: list[Drop] = field(default_factory=list)

    def unseen(self, docs: Sequence[Document]) -> list[str]:
        """Ids not verified in an earlier round (each id is read from the store once per call)."""
        return list(dict.fromkeys(d.id for d in docs if d.id and d.id not in self.verified))

    def absorb(self, docs: Sequence[Document], verified: Mapping[str, _Verified]) -> None:
        """Classify the documents of the latest (widest) round, in the wrapped retriever's order."""
        self.verified.update(verified)
        self.rounds += 1
        self.fetched = len(docs)
        # Fewer than asked for: the wrapped retriever has nothing more to give.
        self.exhausted = len(docs) < self.window
        self.kept, self.dropped = [], []
        seen: set[str] = set()
        for doc in docs:
            if not doc.id:
                self.dropped.append(Drop("", DropReason.UNSEALED))
                continue
            if doc.id in seen:
                continue  # a duplicate is neither served twice nor a drop
            seen.add(doc.id)
            chunk, reason = self.verified.get(doc.id, (None, DropReason.NOT_IN_STORE))
            if reason is None and chunk is not None and doc.page_content != chunk.text:
                # The seal holds for the stored chunk, but this retriever served other text.
                reason = DropReason.TEXT_MISMATCH
            if reason is not None or chunk is None:
                self.dropped.append(Drop(doc.id, reason or DropReason.NOT_IN_STORE))
                continue
            try:
                self.kept.append(chunk_document(chunk))
            except Exception:  # fail closed: a verified chunk we cannot render is not served
                self.dropped.append(Drop(doc.id, DropReason.MALFORMED_SEAL))

    def done(self) -> bool:
        """True when k documents passed, or widening cannot find more."""
        if len(self.kept) >= self.k or self.exhausted or not self.widenable:
            return True
        return self.max_fetch is not None and self.window >= self.max_fetch

    def widen(self) -> None:
        """Grow the fetch window for the next round."""
        self.window *= WIDEN_FACTOR
        if self.max_fetch is not None:
            self.window = min(self.window, self.max_fetch)

    def report(self) -> FilterReport:
        """What this call kept and dropped."""
        kept = self.kept[: self.k]
        return FilterReport(
            k=self.k,
            fetched=self.fetched,
            rounds=self.rounds,
            kept=tuple(str(d.id) for d in kept),
            dropped=tuple(self.dropped),
            exhausted=self.exhausted,
        )


class GuardedRetriever(BaseRetriever):
    """Wraps a retriever and returns only documents that pass ragguard's retrieval filter.

    Every document the wrapped retriever returns is looked up by ``Document.id``
    in the guard's served collection (``Guard.verify_stored``: re-read with its
    vector, seal and policy checked). It is dropped if it has no id
    (``unsealed``), is not in the store, fails its seal, is not allowed, comes
    from a revoked source, or if its ``page_content`` differs from the stored
    text (``text_mismatch``). A bad document never raises.

    The call returns exactly ``k`` documents whenever at least ``k`` valid ones
    exist: it over-fetches and widens the window until ``k`` pass or the wrapped
    retriever is exhausted. The window is set per call, never by mutating the
    wrapped retriever: a ``VectorStoreRetriever`` gets ``k`` (and ``fetch_k``
    for MMR) as call arguments; a retriever with a ``k`` field is copied. Any
    other retriever is called once and can come back short.

    What was dropped, and why, is dispatched to the run's callbacks as the
    custom event ``ragguard_filter`` (see :class:`~langchain_ragguard.DropCollector`),
    logged, and passed to ``on_text`` when something was dropped.

    Returned documents are rebuilt from the verified store: text, caller
    metadata, and ``source`` / ``doc_id`` / ``chunk_index`` from the seal.

    Args:
        retriever: The retriever to filter.
        guard: The guard whose served collection and keys decide.
        k: Documents to return (also accepted per call: ``invoke(query, k=3)``).
        max_fetch: Cap on the over-fetch window; None widens until exhausted.

    Raises:
        ValueError: On a call with ``k`` < 1.
        ragguard.StoreError: If the guard's store or collection cannot be opened
            (a misconfiguration, unlike a bad document).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: BaseRetriever
    guard: Guard
    k: int = Field(default=4, ge=1)
    max_fetch: int | None = Field(default=None, ge=1)

    @classmethod
    def from_guard(
        cls,
        guard: Guard,
        k: int = 4,
        *,
        search_type: str = "similarity",
        search_kwargs: Mapping[str, Any] | None = None,
        max_fetch: int | None = None,
    ) -> GuardedRetriever:
        """A guarded ``langchain_chroma.Chroma`` retriever over the guard's own store.

        Args:
            guard: A guard over Chroma (``Guard.open(path)`` or ``Guard.open(chroma_url=...)``).
            k: Documents to return.
            search_type: ``"similarity"``, ``"mmr"`` or ``"similarity_score_threshold"``.
            search_kwargs: Passed to ``Chroma.as_retriever`` (``filter``, ``score_threshold``...).
            max_fetch: Cap on the over-fetch window.

        Raises:
            TypeError: If ``guard`` is not a Guard, or its store is not Chroma (use :class:`RagguardRetriever`).
            ImportError: If ``langchain-chroma`` is not installed (the ``chroma`` extra).
            ragguard.StoreError: If the store or collection does not exist yet.
        """
        from langchain_ragguard.chroma import guard_vectorstore

        if not isinstance(guard, Guard):
            raise TypeError(f"guard must be a ragguard Guard (e.g. Guard.open(path)), got {type(guard).__name__}")
        store = guard_vectorstore(guard)
        inner = store.as_retriever(search_type=search_type, search_kwargs=dict(search_kwargs or {}))
        return cls(retriever=inner, guard=guard, k=k, max_fetch=max_fetch)

    # -- one call ---------------------------------------------------------------
    def _start(self, k: int | None) -> _Call:
        want = self.k if k is None else k
        if not isinstance(want, int) or isinstance(want, bool) or want < 1:
            raise ValueError(f"k must be a positive integer, got {want!r}")
        widenable = isinstance(self.retriever, VectorStoreRetriever) or "k" in type(self.retriever).model_fields
        window = initial_window(want) if widenable else want
        if self.max_fetch is not None:
            window = max(want, min(window, self.max_fetch))
        return _Call(k=want, window=window, max_fetch=self.max_fetch, widenable=widenable)

    def _per_call(self, n: int, kwargs: dict[str, Any]) -> tuple[BaseRetriever, dict[str, Any]] | None:
        """The wrapped retriever and call arguments that fetch ``n`` documents, or None if it cannot be told."""
        inner = self.retriever
        if isinstance(inner, VectorStoreRetriever):
            # Call arguments override search_kwargs for this call only (search_kwargs | kwargs).
            extra: dict[str, Any] = {"k": n}
            if inner.search_type == "mmr":
                fetch_k = max(int(inner.search_kwargs.get("fetch_k", _MMR_FETCH_K)), int(kwargs.get("fetch_k", 0)))
                extra["fetch_k"] = max(fetch_k, n)
            return inner, {**kwargs, **extra}
        if "k" in type(inner).model_fields:
            # A shallow per-call copy: the shared retriever is never mutated.
            return inner.model_copy(update={"k": n}), kwargs
        return None

    def _plan(self, call: _Call, kwargs: dict[str, Any]) -> tuple[BaseRetriever, dict[str, Any]]:
        planned = self._per_call(call.window, kwargs) if call.widenable else None
        return planned if planned is not None else (self.retriever, kwargs)

    def _verify(self, ids: list[str]) -> dict[str, _Verified]:
        return self.guard.verify_stored(ids) if ids else {}

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        _check_query(query)
        call = self._start(k)
        while True:
            inner, call_kwargs = self._plan(call, kwargs)
            callbacks: CallbackManager = run_manager.get_child()
            docs = inner.invoke(query, {"callbacks": callbacks}, **call_kwargs)
            call.absorb(docs, self._verify(call.unseen(docs)))
            if call.done():
                break
            call.widen()
        emit(run_manager, call.report())
        return call.kept[: call.k]

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        _check_query(query)
        call = self._start(k)
        while True:
            inner, call_kwargs = self._plan(call, kwargs)
            callbacks: AsyncCallbackManager = run_manager.get_child()
            docs = await inner.ainvoke(query, {"callbacks": callbacks}, **call_kwargs)
            # The store read is blocking I/O: keep it off the event loop.
            verified = await run_in_executor(None, self._verify, call.unseen(docs))
            call.absorb(docs, verified)
            if call.done():
                break
            call.widen()
        await aemit(run_manager, call.report())
        return call.kept[: call.k]


def _check_query(query: object) -> None:
    """Refuse what no retriever should search for: a non-string or an empty query.

    Raises:
        TypeError: If ``query`` is not a string.
        ValueError: If it is empty or whitespace.
    """
    if not isinstance(query, str):
        raise TypeError(f"the query must be a string, got {type(query).__name__}")
    if not query.strip():
        raise ValueError("the query is empty")


class RagguardRetriever(BaseRetriever):
    """Retrieves through ``Guard.search``: the guard embeds, queries and filters.

    Works with every ragguard store (Chroma, in-memory). Drops are reported
    exactly as by :class:`GuardedRetriever`.

    Args:
        guard: The guard to search.
        k: Documents to return (also accepted per call: ``invoke(query, k=3)``).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    guard: Guard
    k: int = Field(default=4, ge=1)

    def _search(self, query: str, k: int | None, extra: Mapping[str, Any]) -> tuple[list[Document], FilterReport]:
        if extra:
            # Dropping them silently would, say, ignore a tenant filter and return other tenants' chunks.
            raise TypeError(
                f"RagguardRetriever takes no {', '.join(sorted(extra))}: it searches the whole guarded "
                "collection. To filter, wrap the vector store's retriever in GuardedRetriever "
                "(GuardedRetriever.from_guard(guard, search_kwargs={'filter': {...}}))."
            )
        _check_query(query)
        want = self.k if k is None else k
        if not isinstance(want, int) or isinstance(want, bool) or want < 1:
            raise ValueError(f"k must be a positive integer, got {want!r}")
        result: SearchResult = self.guard.search(query, k=want)
        docs = [hit_document(h) for h in result.hits]
        report = FilterReport(
            k=want,
            fetched=len(result.hits) + len(result.dropped),
            rounds=1,
            kept=tuple(h.id for h in result.hits),
            dropped=result.dropped,
            exhausted=len(result.hits) < want,
        )
        return docs, report

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        docs, report = self._search(query, k, kwargs)
        emit(run_manager, report)
        return docs

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        docs, report = await run_in_executor(None, self._search, query, k, kwargs)
        await aemit(run_manager, report)
        return docs
