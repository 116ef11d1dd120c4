"""Streaming a collection: ids listed in big pages, content read by id, shards read only their own chunks."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from audit_support import BAD, SRC, new_guard, quarantined, served

from ragguard.audit.run import in_shard, run_audit
from ragguard.errors import StoreError
from ragguard.stores import ChromaStore, InMemoryStore, iter_id_batches, iter_id_pages, iter_pages
from ragguard.stores.base import Collection, read_ahead
from ragguard.types import StoredChunk


def _filled(kind: str, tmp_path: Path, n: int = 23) -> Collection:
    store = ChromaStore(path=tmp_path / "chroma") if kind == "chroma" else InMemoryStore()
    col = store.collection("kbase", create=True)
    vecs = np.random.default_rng(3).normal(size=(n, 8)).astype(np.float32)
    col.add([f"c{i:02d}" for i in range(n)], vecs, [f"text {i}" for i in range(n)], [{"n": i} for i in range(n)])
    return col


@pytest.mark.parametrize("kind", ["memory", "chroma"])
def test_every_chunk_streams_exactly_once_across_id_and_content_pages(kind: str, tmp_path: Path) -> None:
    col = _filled(kind, tmp_path)
    pages = list(iter_pages(col, 3, id_page_size=7))
    got = [c.id for page in pages for c in page]
    assert sorted(got) == [f"c{i:02d}" for i in range(23)]
    assert all(len(p) <= 3 for p in pages)
    assert all(c.text == f"text {int(c.id[1:])}" and c.embedding is not None for p in pages for c in p)
    assert [len(ids) for ids in iter_id_pages(col, 7)] == [7, 7, 7, 2]


@pytest.mark.parametrize("kind", ["memory", "chroma"])
def test_page_ids_follow_the_order_of_page(kind: str, tmp_path: Path) -> None:
    col = _filled(kind, tmp_path)
    assert col.page_ids(5, 9) == [c.id for c in col.page(5, 9, include_embeddings=False)]
    assert col.page_ids(23, 5) == []


def test_a_chunk_deleted_after_the_listing_is_skipped() -> None:
    col = _filled("memory", Path("."))
    stream = iter_pages(col, 5, id_page_size=100)
    first = next(stream)
    col.delete(["c10", "c20"])
    rest = [c.id for page in stream for c in page]
    assert "c10" not in rest and "c20" not in rest
    assert len(first) + len(rest) == 21


class _CountingGets:
    """Wraps a collection and records every id whose content is read."""

    def __init__(self, inner: Collection) -> None:
        self.inner = inner
        self.read: list[str] = []

    def get(self, ids: Sequence[str], *, include_embeddings: bool = True) -> list[StoredChunk]:
        self.read.extend(ids)
        return self.inner.get(ids, include_embeddings=include_embeddings)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_a_sharded_audit_reads_only_its_own_chunks() -> None:
    g = new_guard()
    g.ingest([f"Passage {i} about the river and the city number {i}." for i in range(30)] + [BAD], source=SRC)
    all_ids = [c.id for c in served(g).page(0, 1000)]
    counting = _CountingGets(served(g))
    g._cols = (counting, g.collections()[1])  # type: ignore[assignment]
    report = g.audit(shard=(1, 3))
    assert counting.read and all(in_shard(i, (1, 3)) for i in counting.read)
    assert sorted(counting.read) == sorted(i for i in all_ids if in_shard(i, (1, 3)))
    assert report.counts.served == len(counting.read)


def test_the_walk_survives_deletions_behind_it() -> None:
    col = _filled("memory", Path("."), n=30)
    walk = iter_id_pages(col, 10, slack=5)
    first = next(walk)
    col.delete(first[:3])  # three listed chunks go: every later id shifts back three places
    rest = [i for page in walk for i in page]
    assert sorted(first + rest) == [f"c{i:02d}" for i in range(30)]
    assert len(first + rest) == 30


def test_more_deletions_than_the_slack_are_reported(caplog: pytest.LogCaptureFixture) -> None:
    col = _filled("memory", Path("."), n=30)
    walk = iter_id_pages(col, 10, slack=2)
    first = next(walk)
    col.delete(first[:6])
    with caplog.at_level("WARNING"):
        list(walk)
    assert "changed under the walk" in caplog.text


class _OldStyle:
    """A collection written against the protocol before ``page_ids`` and ``get(include_embeddings=)``."""

    def __init__(self, inner: Collection) -> None:
        self.inner = inner
        self.name = inner.name

    def page(self, offset: int, limit: int, *, include_embeddings: bool = True) -> list[StoredChunk]:
        return self.inner.page(offset, limit, include_embeddings=include_embeddings)

    def get(self, ids: Sequence[str]) -> list[StoredChunk]:
        return self.inner.get(ids)


def test_a_store_without_page_ids_still_streams() -> None:
    col = _filled("memory", Path("."))
    got = [c.id for page in iter_pages(_OldStyle(col), 4, id_page_size=6) for c in page]  # type: ignore[arg-type]
    assert sorted(got) == [f"c{i:02d}" for i in range(23)]


def test_chunks_added_during_the_walk_are_visited_once() -> None:
    col = _filled("memory", Path("."), n=12)
    walk = iter_id_pages(col, 5, slack=3)
    first = next(walk)
    vecs = np.random.default_rng(4).normal(size=(4, 8)).astype(np.float32)
    col.add([f"n{i}" for i in range(4)], vecs, [f"new {i}" for i in range(4)], [{} for _ in range(4)])
    seen = first + [i for page in walk for i in page]
    assert sorted(seen) == sorted([f"c{i:02d}" for i in range(12)] + [f"n{i}" for i in range(4)])


def test_id_batches_report_listed_ids_including_those_passed_over() -> None:
    col = _filled("memory", Path("."), n=20)
    evens = [f"c{i:02d}" for i in range(0, 20, 2)]
    got = list(iter_id_batches(col, 3, keep=lambda i: i in evens[:3], id_page_size=10))
    # first id page (c00-c09) keeps c00, c02, c04: one batch; the second keeps nothing: an empty batch.
    assert got == [(["c00", "c02", "c04"], 10), ([], 20)]


def test_read_ahead_yields_every_item_in_order_at_any_depth() -> None:
    for depth in (0, 1, 3):
        assert list(read_ahead(iter(range(50)), depth)) == list(range(50))


def test_read_ahead_raises_a_producer_failure_at_the_item_where_it_happened() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise StoreError("store went away")

    got: list[int] = []
    with pytest.raises(StoreError, match="went away"):
        for x in read_ahead(items()):
            got.append(x)
    assert got == [1, 2]


def test_read_ahead_stops_its_reader_when_the_consumer_stops_early() -> None:
    produced: list[int] = []

    def items() -> Iterator[int]:
        for i in range(1000):
            produced.append(i)
            yield i

    before = threading.active_count()
    gen = read_ahead(items(), depth=2)
    assert [next(gen) for _ in range(3)] == [0, 1, 2]
    gen.close()  # what a ``break`` or an exception in the walk does
    assert threading.active_count() == before  # the reader thread has ended, not left blocked on a full queue
    assert len(produced) <= 3 + 2 + 1  # consumed, held ready, and the one in hand


def test_an_early_stop_does_not_wait_forever_for_a_hung_read(caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    in_read = threading.Event()

    def items() -> Iterator[int]:
        yield 0
        in_read.set()
        release.wait(10)  # a store read that stopped answering
        yield 1

    with caplog.at_level("WARNING"):
        gen = read_ahead(items(), stop_wait=0.1)
        assert next(gen) == 0
        in_read.wait(5)
        gen.close()  # what a failing walk does to the generator it was looping over
    # The close returned while the read was still hanging, and said so.
    assert not release.is_set() and "left to finish alone" in caplog.text
    release.set()


def test_an_audit_reading_ahead_still_sees_each_chunk_once_and_fails_closed_on_a_read_error() -> None:
    guard = new_guard()
    guard.ingest([{"id": f"d{i}", "text": f"Ordinary passage number {i} about rivers."} for i in range(30)], source=SRC)
    report = run_audit(guard, page_size=4)
    assert report.counts.served == report.counts.verified == 30

    col = served(guard)
    calls = {"n": 0}
    real_get = col.get

    def flaky_get(ids: Sequence[str], **kw: object) -> list[StoredChunk]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise StoreError("connection reset")
        return real_get(ids, **kw)  # type: ignore[arg-type]

    col.get = flaky_get  # type: ignore[method-assign]  # the guard holds this very collection
    with pytest.raises(StoreError, match="connection reset"):
        run_audit(guard, page_size=4)


def test_a_chunk_moved_to_quarantine_after_its_page_was_read_is_not_reported_as_served_twice() -> None:
    # The walk reads pages ahead: another process may quarantine a chunk between the read and the check.
    guard = new_guard()
    guard.ingest([{"id": f"d{i}", "text": f"Ordinary passage number {i} about rivers."} for i in range(12)], source=SRC)
    col, held = served(guard), quarantined(guard)
    real_get = col.get
    calls = {"n": 0}
    moved: list[str] = []

    def get_then_move_one(ids: Sequence[str], **kw: object) -> list[StoredChunk]:
        page = real_get(ids, **kw)  # type: ignore[arg-type]
        calls["n"] += 1
        if calls["n"] == 2:  # the second page is read; then a reviewer moves one of its chunks
            c = page[1]
            held.add([c.id], np.asarray([c.embedding]), [c.text], [c.metadata])
            col.delete([c.id])
            moved.append(c.id)
        return page

    col.get = get_then_move_one  # type: ignore[method-assign]
    report = run_audit(guard, page_size=4)
    assert moved and report.integrity_failures == ()
    assert report.counts.served == 11 and report.counts.quarantined == 1
