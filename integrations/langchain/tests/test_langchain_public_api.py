"""The public API is pinned: add names, don't rename them."""

from __future__ import annotations

import langchain_ragguard


def test_public_api_is_pinned() -> None:
    assert sorted(langchain_ragguard.__all__) == sorted(
        [
            "FILTER_EVENT",
            "DropCollector",
            "FilterReport",
            "GuardedRetriever",
            "RagguardEmbeddings",
            "RagguardRetriever",
            "__version__",
            "aindex_documents",
            "document_record",
            "flatten_metadata",
            "index_documents",
        ]
    )
    for name in langchain_ragguard.__all__:
        assert getattr(langchain_ragguard, name) is not None
    assert langchain_ragguard.FILTER_EVENT == "ragguard_filter"


def test_importing_does_not_need_langchain_chroma() -> None:
    # langchain_chroma is imported lazily by from_guard only (it is an optional extra).
    import importlib
    import sys

    for mod in [m for m in sys.modules if m.startswith("langchain_ragguard")]:
        del sys.modules[mod]
    had_chroma = "langchain_chroma" in sys.modules
    importlib.import_module("langchain_ragguard")
    assert had_chroma or "langchain_chroma" not in sys.modules
