"""LangChain's standard retriever suite, sync and async, for both retrievers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.retrievers import BaseRetriever
from langchain_tests.integration_tests import RetrieversIntegrationTests
from lcrg_support import CLEAN, QUERY, SOURCE, Tamper, chroma_guard, fake_detectors, ingest_clean
from ragguard.testing import make_guard

from langchain_ragguard import GuardedRetriever, RagguardRetriever
from langchain_ragguard.chroma import guard_vectorstore

# The suite's async test is inherited and may not be overridden, so it cannot carry
# its own mark: mark the classes, so it runs whatever the root's asyncio_mode, and
# silence pytest-asyncio's note that the sync tests carry the mark too.
_ASYNC_CLASS_MARKS = [
    pytest.mark.asyncio,
    pytest.mark.filterwarnings("ignore:.*is marked with '@pytest.mark.asyncio':pytest.PytestWarning"),
]


class TestGuardedRetrieverStandard(RetrieversIntegrationTests):
    """GuardedRetriever over a Chroma retriever on a store with tampered chunks near the query.

    The tampering makes the suite's k checks meaningful: the wrapped retriever's
    top results include chunks that must be dropped, so exactly k only comes
    back if over-fetching works.
    """

    pytestmark = _ASYNC_CLASS_MARKS

    @pytest.fixture(autouse=True)
    def _knowledge_base(self, tmp_path: Path) -> None:
        guard = chroma_guard(tmp_path / "store")
        ids = ingest_clean(guard)
        tamper = Tamper(guard)
        tamper.edit_text(ids[0])
        tamper.add_unsealed()
        tamper.copy_quarantined()
        # Also a plain Chroma retriever with its own k, which must stay untouched.
        inner = guard_vectorstore(guard).as_retriever(search_kwargs={"k": 2})
        self._params: dict[str, Any] = {"retriever": inner, "guard": guard, "k": 4}

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return GuardedRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return self._params

    @property
    def retriever_query_example(self) -> str:
        return QUERY

    async def test_ainvoke_with_k_kwarg(self, retriever: BaseRetriever) -> None:
        """The suite checks k per call only in sync; the async path must honour it too."""
        for k in (1, 3, 5):
            docs = await retriever.ainvoke(QUERY, k=k)
            assert len(docs) == k


class TestRagguardRetrieverStandard(RetrieversIntegrationTests):
    """RagguardRetriever (through Guard.search) over the in-memory store."""

    pytestmark = _ASYNC_CLASS_MARKS

    @pytest.fixture(autouse=True)
    def _knowledge_base(self) -> None:
        guard = make_guard(dim=128, detectors=fake_detectors())
        guard.ingest(CLEAN, source=SOURCE, trust="trusted")
        self._params: dict[str, Any] = {"guard": guard, "k": 4}

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return RagguardRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return self._params

    @property
    def retriever_query_example(self) -> str:
        return QUERY

    async def test_ainvoke_with_k_kwarg(self, retriever: BaseRetriever) -> None:
        for k in (1, 3, 5):
            docs = await retriever.ainvoke(QUERY, k=k)
            assert len(docs) == k
