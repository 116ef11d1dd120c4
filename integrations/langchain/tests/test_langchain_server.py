"""from_guard over a Chroma *server* (started on loopback): the same guarantees as embedded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lcrg_support import QUERY, Tamper, fake_detectors, ingest_clean, settings
from ragguard import Guard, Keyring, testing
from ragguard.stores.chroma import ChromaStore
from ragguard.testing import FakeEmbedder

from langchain_ragguard import DropCollector, GuardedRetriever

pytestmark = [pytest.mark.integration, pytest.mark.server]


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Chroma server on a free loopback port, stopped after the module."""
    with testing.chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


def test_from_guard_over_a_chroma_server(chroma_url: str) -> None:
    guard = Guard(
        ChromaStore(url=chroma_url),
        FakeEmbedder(128),
        settings=settings(),
        keyring=Keyring.generate(),
        detectors=fake_detectors(),
    )
    ids = ingest_clean(guard)
    tamper = Tamper(guard)
    tamper.edit_text(ids[0])
    tamper.add_unsealed()
    collector = DropCollector()
    docs = GuardedRetriever.from_guard(guard, k=4).invoke(QUERY, config={"callbacks": [collector]})
    assert len(docs) == 4
    assert collector.reports[0].drop_counts() == {"text_mismatch": 1, "unsealed": 1}
    assert [d.id for d in docs] == [h.id for h in guard.search(QUERY, k=4).hits]
