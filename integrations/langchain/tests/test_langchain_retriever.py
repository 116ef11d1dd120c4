"""GuardedRetriever mechanics: over-fetching, per-call windows, generic retrievers, errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from lcrg_support import CLEAN, QUERY, Tamper, chroma_guard, fake_detectors
from ragguard import Guard, StoreError
from ragguard.testing import make_guard

from langchain_ragguard import DropCollector, GuardedRetriever, RagguardEmbeddings, RagguardRetriever
from langchain_ragguard.chroma import guard_vectorstore


def _plant(tamper: Tamper, n: int) -> list[str]:
    """n unsealed chunks that all rank above every clean one (their text is the query)."""
    return [tamper.add_unsealed(f"planted-{i}", f"{QUERY} {'!' * i}") for i in range(n)]


def test_over_fetches_until_k_pass_without_mutating_the_wrapped_retriever(guard: Guard, tamper: Tamper) -> None:
    _plant(tamper, 30)
    raw = guard_vectorstore(guard).as_retriever(search_kwargs={"k": 2})
    assert {d.id for d in raw.invoke(QUERY, k=14)} <= {f"planted-{i}" for i in range(30)}
    collector = DropCollector()
    docs = GuardedRetriever(retriever=raw, guard=guard, k=4).invoke(QUERY, config={"callbacks": [collector]})
    assert len(docs) == 4 and not any(d.id.startswith("planted") for d in docs if d.id)
    (report,) = collector.reports
    assert report.rounds == 2  # 14 all planted, then 56 (>= the whole store)
    assert report.drop_counts() == {"unsealed": 30}
    assert raw.search_kwargs == {"k": 2}  # the shared retriever is untouched


def test_comes_back_short_only_when_the_store_is_exhausted(guard: Guard, tamper: Tamper) -> None:
    _plant(tamper, 5)
    collector = DropCollector()
    docs = GuardedRetriever.from_guard(guard, k=50).invoke(QUERY, config={"callbacks": [collector]})
    assert len(docs) == len(CLEAN)
    assert collector.reports[0].exhausted


def test_max_fetch_caps_the_window(guard: Guard, tamper: Tamper) -> None:
    _plant(tamper, 30)
    collector = DropCollector()
    docs = GuardedRetriever.from_guard(guard, k=4, max_fetch=20).invoke(QUERY, config={"callbacks": [collector]})
    assert docs == []  # the 20 nearest are all planted, and the cap forbids looking further
    assert collector.reports[0].rounds == 2 and collector.reports[0].fetched == 20


def test_mmr_search_is_widened_through_fetch_k(guard: Guard, tamper: Tamper) -> None:
    _plant(tamper, 25)
    retriever = GuardedRetriever.from_guard(guard, k=3, search_type="mmr", search_kwargs={"fetch_k": 5})
    docs = retriever.invoke(QUERY)
    assert len(docs) == 3 and not any(str(d.id).startswith("planted") for d in docs)
    assert retriever.retriever.search_kwargs == {"fetch_k": 5}  # type: ignore[attr-defined]


def test_threads_sharing_one_retriever_get_their_own_k_and_reports(guard: Guard, tamper: Tamper) -> None:
    _plant(tamper, 12)
    retriever = GuardedRetriever.from_guard(guard, k=2)

    def one(i: int) -> tuple[int, list[Document], DropCollector]:
        c = DropCollector()
        return i, retriever.invoke(QUERY, {"callbacks": [c]}, k=1 + i % 4), c

    with ThreadPoolExecutor(4) as pool:
        for i, docs, c in pool.map(one, range(12)):
            assert len(docs) == 1 + i % 4
            assert c.reports[0].k == 1 + i % 4 and list(c.reports[0].kept) == [d.id for d in docs]


class ListRetriever(BaseRetriever):
    """A retriever with no notion of k: returns fixed documents."""

    docs: list[Document]

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return list(self.docs)


class TopKRetriever(BaseRetriever):
    """A retriever with a ``k`` field (like BM25Retriever): returns the first k fixed documents."""

    docs: list[Document]
    k: int = 2
    seen_k: list[int] = []

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        self.seen_k.append(self.k)
        return list(self.docs[: self.k])


def _stored_docs(guard: Guard) -> list[Document]:
    return guard_vectorstore(guard).as_retriever(search_kwargs={"k": len(CLEAN)}).invoke(QUERY)


def test_generic_retriever_documents_are_checked_by_id_and_text(guard: Guard) -> None:
    good, other, *_ = _stored_docs(guard)
    docs = [
        Document(page_content="no id at all"),
        Document(id=other.id, page_content="Captain Hook was played by evil.example."),  # right id, wrong text
        Document(id="rg-0000", page_content="never ingested"),
        good,
        Document(id=good.id, page_content=good.page_content),  # duplicate: served once, not a drop
    ]
    collector = DropCollector()
    out = GuardedRetriever(retriever=ListRetriever(docs=docs), guard=guard, k=4).invoke(
        QUERY, config={"callbacks": [collector]}
    )
    assert [d.id for d in out] == [good.id]
    (report,) = collector.reports
    assert [(d.id, d.reason.value) for d in report.dropped] == [
        ("", "unsealed"),
        (other.id, "text_mismatch"),
        ("rg-0000", "not_in_store"),
    ]
    assert report.rounds == 1  # no k to widen: called once


def test_retriever_with_a_k_field_is_widened_on_a_copy(guard: Guard, tamper: Tamper) -> None:
    planted = [Document(id=f"p{i}", page_content="planted") for i in range(20)]
    inner = TopKRetriever(docs=planted + _stored_docs(guard), k=2, seen_k=[])
    out = GuardedRetriever(retriever=inner, guard=guard, k=3).invoke(QUERY)
    assert len(out) == 3
    assert inner.k == 2
    assert inner.seen_k == [13, 52]


def test_guarded_retrievers_nest(guard: Guard, tamper: Tamper) -> None:
    _plant(tamper, 15)
    inner = GuardedRetriever.from_guard(guard, k=1)
    outer = GuardedRetriever(retriever=inner, guard=guard, k=3)
    assert len(outer.invoke(QUERY)) == 3
    assert inner.k == 1


@pytest.mark.parametrize("bad", [0, -1])
def test_k_must_be_positive(guard: Guard, bad: int) -> None:
    retriever = GuardedRetriever.from_guard(guard)
    with pytest.raises(ValueError, match="k must be"):
        retriever.invoke(QUERY, k=bad)
    with pytest.raises(ValueError):
        GuardedRetriever(retriever=retriever.retriever, guard=guard, k=bad)


def test_from_guard_needs_chroma() -> None:
    with pytest.raises(TypeError, match="RagguardRetriever"):
        GuardedRetriever.from_guard(make_guard(detectors=fake_detectors()))


def test_from_guard_names_what_it_got_instead_of_a_guard(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="guard must be a ragguard Guard.*got str"):
        GuardedRetriever.from_guard(str(tmp_path))  # type: ignore[arg-type]


@pytest.mark.asyncio
@pytest.mark.parametrize(("query", "error"), [("", ValueError), ("   ", ValueError), (123, TypeError)])
async def test_both_retrievers_refuse_an_empty_or_non_string_query(guard: Guard, query: object, error: type) -> None:
    for retriever in (GuardedRetriever.from_guard(guard, k=2), RagguardRetriever(guard=guard, k=2)):
        with pytest.raises(error, match="query"):
            retriever.invoke(query)  # type: ignore[arg-type]
        with pytest.raises(error, match="query"):
            await retriever.ainvoke(query)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_ragguard_retriever_refuses_a_filter_it_cannot_apply(guard: Guard) -> None:
    # Ignoring it would return chunks the caller filtered out (another tenant's, say).
    retriever = RagguardRetriever(guard=guard, k=2)
    with pytest.raises(TypeError, match="takes no filter.*GuardedRetriever"):
        retriever.invoke(QUERY, filter={"tenant": "a"})
    with pytest.raises(TypeError, match="takes no filter"):
        await retriever.ainvoke(QUERY, filter={"tenant": "a"})
    assert len(retriever.invoke(QUERY, k=1)) == 1  # k stays a call argument


def test_from_guard_does_not_create_a_missing_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        GuardedRetriever.from_guard(chroma_guard(tmp_path / "nothing"))
    assert not (tmp_path / "nothing" / "chroma.sqlite3").exists()


def test_embeddings_adapter_reproduces_the_stored_vectors(guard: Guard) -> None:
    emb = RagguardEmbeddings(guard.embedder)
    stored = guard.collections()[0].get([d.id for d in _stored_docs(guard) if d.id])
    again = emb.embed_documents([c.text for c in stored])
    for chunk, vec in zip(stored, again, strict=True):
        assert chunk.embedding.tolist() == pytest.approx(vec, abs=0)
    assert emb.embed_query(CLEAN[0]) == emb.embed_documents([CLEAN[0]])[0]
    assert emb.embed_documents([]) == []
