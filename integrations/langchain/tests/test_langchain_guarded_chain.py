"""End to end with real langchain-core, langchain-chroma and chromadb.

Tampering done straight through chromadb is served without the wrapper, and not with it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.vectorstores import VectorStoreRetriever
from lcrg_support import CLEAN, MARKER, QUERY, Tamper, format_docs
from ragguard import Guard

from langchain_ragguard import FILTER_EVENT, DropCollector, GuardedRetriever
from langchain_ragguard.chroma import guard_vectorstore

EXPECTED_DROPS = {"text_mismatch", "unsealed", "bad_signature", "not_allowed"}


def _tamper_all(guard: Guard, tamper: Tamper) -> dict[str, str]:
    """Every kind of write around the guard; returns chunk id -> expected drop reason."""
    edited = guard.search(QUERY, k=1).hits[0].id  # the best clean hit, so it ranks top
    return {
        tamper.edit_text(edited): "text_mismatch",
        tamper.add_unsealed("planted-1"): "unsealed",
        tamper.copy_quarantined(flip=True): "bad_signature",
    }


def _chain(retriever: Runnable[str, Any]) -> Runnable[str, str]:
    return retriever | RunnableLambda(format_docs)


def test_unguarded_chain_serves_tampering_guarded_chain_does_not(guard: Guard, tamper: Tamper) -> None:
    clean_top = [h.id for h in guard.search(QUERY, k=4).hits]
    planted = _tamper_all(guard, tamper)
    raw = guard_vectorstore(guard).as_retriever(search_kwargs={"k": 4})

    # Without the wrapper, the tampered chunks reach the model's context.
    raw_docs = raw.invoke(QUERY)
    assert set(planted) <= {d.id for d in raw_docs}
    assert MARKER in _chain(raw).invoke(QUERY)

    # With it, they do not; the chain is otherwise unchanged.
    guarded = GuardedRetriever(retriever=raw, guard=guard, k=4)
    collector = DropCollector()
    context = _chain(guarded).invoke(QUERY, config={"callbacks": [collector]})
    assert MARKER not in context
    assert "ignore previous instructions" not in context

    # Why: one report for the retriever run, naming each planted chunk and its reason.
    (report,) = collector.reports
    assert {d.id: d.reason.value for d in report.dropped} == planted
    assert len(report.kept) == 4
    # Clean documents still come back, in the guard's own order, minus the edited one.
    assert list(report.kept) == [h.id for h in guard.search(QUERY, k=4).hits]
    assert set(report.kept) >= set(clean_top) - set(planted)


def test_honest_quarantine_seal_copied_in_is_not_allowed(guard: Guard, tamper: Tamper) -> None:
    cid = tamper.copy_quarantined(flip=False)
    collector = DropCollector()
    docs = GuardedRetriever.from_guard(guard, k=4).invoke(QUERY, config={"callbacks": [collector]})
    assert cid not in {d.id for d in docs}
    assert collector.reports[0].drop_counts() == {"not_allowed": 1}


def test_clean_store_has_zero_false_drops(guard: Guard) -> None:
    raw = guard_vectorstore(guard).as_retriever(search_kwargs={"k": len(CLEAN)})
    collector = DropCollector()
    guarded = GuardedRetriever(retriever=raw, guard=guard, k=len(CLEAN))
    docs = guarded.invoke(QUERY, config={"callbacks": [collector]})
    assert [d.id for d in docs] == [d.id for d in raw.invoke(QUERY)]
    assert [d.page_content for d in docs] == [d.page_content for d in raw.invoke(QUERY)]
    assert collector.reports[0].dropped == ()
    assert collector.reports[0].rounds == 1


def test_documents_carry_verified_metadata_not_seal_fields(guard: Guard) -> None:
    (doc,) = GuardedRetriever.from_guard(guard, k=1).invoke(QUERY)
    assert doc.metadata["source"] == "https://wiki.example/peter-pan"
    assert doc.metadata["chunk_index"] == 0
    assert doc.metadata["doc_id"].startswith("rec-")
    assert not any(key.startswith("rg_") for key in doc.metadata)


class _TextAndEvents(BaseCallbackHandler):
    def __init__(self) -> None:
        self.texts: list[str] = []
        self.events: list[tuple[str, Any]] = []

    def on_text(self, text: str, **kwargs: Any) -> None:
        self.texts.append(text)

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        self.events.append((name, data))


def test_drop_summary_reaches_on_text_and_custom_event_handlers(guard: Guard, tamper: Tamper) -> None:
    _tamper_all(guard, tamper)
    handler = _TextAndEvents()
    GuardedRetriever.from_guard(guard, k=3).invoke(QUERY, config={"callbacks": [handler]})
    assert any("dropped 3" in t and "text_mismatch=1" in t for t in handler.texts)
    ((name, data),) = handler.events
    assert name == FILTER_EVENT
    assert data["drop_counts"] == {"bad_signature": 1, "text_mismatch": 1, "unsealed": 1}


def test_wrapped_retriever_runs_as_a_child_of_the_guarded_run(guard: Guard) -> None:
    class Runs(BaseCallbackHandler):
        def __init__(self) -> None:
            self.starts: list[tuple[Any, Any]] = []

        def on_retriever_start(
            self, serialized: Any, query: str, *, run_id: Any, parent_run_id: Any = None, **kw: Any
        ) -> None:
            self.starts.append((run_id, parent_run_id))

    runs = Runs()
    GuardedRetriever.from_guard(guard, k=2).invoke(QUERY, config={"callbacks": [runs]})
    (outer, _), (_, inner_parent) = runs.starts
    assert inner_parent == outer


@pytest.mark.asyncio
async def test_async_chain_and_astream_events(guard: Guard, tamper: Tamper) -> None:
    planted = _tamper_all(guard, tamper)
    guarded = GuardedRetriever.from_guard(guard, k=4)
    collector = DropCollector()
    context = await _chain(guarded).ainvoke(QUERY, config={"callbacks": [collector]})
    assert MARKER not in context
    assert {d.id: d.reason.value for d in collector.reports[0].dropped} == planted

    events = [e async for e in guarded.astream_events(QUERY, version="v2")]
    custom = [e for e in events if e["event"] == "on_custom_event" and e["name"] == FILTER_EVENT]
    assert len(custom) == 1
    data: Any = custom[0]["data"]
    assert data["drop_counts"] == {"bad_signature": 1, "text_mismatch": 1, "unsealed": 1}


@pytest.mark.asyncio
async def test_concurrent_async_calls_keep_their_own_reports(guard: Guard, tamper: Tamper) -> None:
    _tamper_all(guard, tamper)
    guarded = GuardedRetriever.from_guard(guard, k=4)
    collectors = [DropCollector() for _ in range(6)]
    results = await asyncio.gather(
        *(guarded.ainvoke(QUERY, {"callbacks": [c]}, k=1 + i % 3) for i, c in enumerate(collectors))
    )
    for i, (docs, c) in enumerate(zip(results, collectors, strict=True)):
        assert len(docs) == 1 + i % 3
        (report,) = c.reports
        assert report.k == 1 + i % 3 and list(report.kept) == [d.id for d in docs]


def test_planted_chunk_never_served_even_when_it_ranks_first(guard: Guard, tamper: Tamper) -> None:
    tamper.add_unsealed("planted-1", QUERY)  # the question itself: the nearest possible vector
    raw = guard_vectorstore(guard).as_retriever(search_kwargs={"k": 1})
    assert raw.invoke(QUERY)[0].id == "planted-1"
    assert isinstance(raw, VectorStoreRetriever)
    (doc,) = GuardedRetriever(retriever=raw, guard=guard, k=1).invoke(QUERY)
    assert doc.id != "planted-1"
