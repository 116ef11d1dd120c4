"""``StoreView.nearest`` with ``min_similarity`` reads only close neighbours, and agrees with the full read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ragguard.errors import StoreError
from ragguard.stores import ChromaStore, InMemoryStore, StoreView, chroma
from ragguard.stores.base import Collection


def _filled(kind: str, tmp_path: Path) -> Collection:
    store = ChromaStore(path=tmp_path / "chroma") if kind == "chroma" else InMemoryStore()
    col = store.collection("kbase", create=True)
    rng = np.random.default_rng(7)
    base = rng.normal(size=(20, 16)).astype(np.float32)
    # Each base vector with two close variants, so some neighbours are near and most are far.
    vecs = np.concatenate([base, base + 0.05 * rng.normal(size=base.shape), base + 0.3 * rng.normal(size=base.shape)])
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    col.add(
        [f"c{i}" for i in range(len(vecs))],
        vecs,
        [f"text {i}" for i in range(len(vecs))],
        [{"n": i} for i in range(len(vecs))],
    )
    return col


@pytest.mark.parametrize("kind", ["memory", "chroma"])
def test_min_similarity_keeps_exactly_the_close_neighbours(kind: str, tmp_path: Path) -> None:
    col = _filled(kind, tmp_path)
    view = StoreView(col, None)
    queries = np.asarray([r.embedding for r in col.get(["c0", "c3", "c25", "c50"])], dtype=np.float32)
    full = view.nearest(queries, 8)
    close = view.nearest(queries, 8, min_similarity=0.9)
    assert any(close.ids) and any(len(c) < len(f) for c, f in zip(close.ids, full.ids, strict=True))
    for q in range(len(queries)):
        expect = [
            (i, t, m["n"])
            for i, d, t, m in zip(full.ids[q], full.distances[q], full.texts[q], full.metadatas[q], strict=True)
            if 1.0 - d >= 0.9
        ]
        got = [(i, t, m["n"]) for i, t, m in zip(close.ids[q], close.texts[q], close.metadatas[q], strict=True)]
        assert got == expect
        assert close.distances[q] == pytest.approx([d for d in full.distances[q] if 1.0 - d >= 0.9], abs=1e-6)


def test_nearest_ids_returns_ids_and_distances_only(tmp_path: Path) -> None:
    col = _filled("chroma", tmp_path)
    q = np.asarray(col.get(["c1"])[0].embedding, dtype=np.float32)[None, :]
    [row] = col.nearest_ids(q, 3)
    assert row[0][0] == "c1" and row[0][1] == pytest.approx(0.0, abs=1e-5)
    assert len(row) == 3 and all(isinstance(i, str) and isinstance(d, float) for i, d in row)


def test_a_big_query_batch_answers_each_vector_in_order_when_its_calls_run_in_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chroma, "QUERY_THREADS", 4)  # threads even on a one-CPU runner
    col = _filled("chroma", tmp_path)
    vecs = np.asarray([r.embedding for r in col.get([f"c{i}" for i in range(60)])], dtype=np.float32)
    queries = np.concatenate([vecs, vecs[::-1], vecs[:30]])  # 150 vectors: three Chroma calls of up to 64
    one_by_one = [col.nearest_ids(q, 5)[0] for q in queries]
    assert col.nearest_ids(queries, 5) == one_by_one
    assert [[(c.id, c.text) for c in row] for row in col.query(queries, 3)] == [
        [(c.id, c.text) for c in col.query(q, 3)[0]] for q in queries
    ]


def test_a_failing_call_in_a_threaded_batch_is_a_store_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chroma, "QUERY_THREADS", 4)
    col = _filled("chroma", tmp_path)
    native = col.native  # type: ignore[attr-defined]
    calls = {"n": 0}
    real = native.query

    def flaky(**kw: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("index file gone")
        return real(**kw)

    native.query = flaky
    with pytest.raises(StoreError, match="index file gone"):
        col.nearest_ids(np.ones((130, 16), dtype=np.float32), 3)
