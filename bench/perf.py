"""Speed of the guard against the bare floor, measured in one process.

    python bench/perf.py [--passages 2000] [--store-size 100000] [--queries 200] [--sections ingest,retrieval]

* **ingest**: the same real passages through ``Guard.ingest`` (all default
  detectors) versus the bare floor: sentence-transformers encode + Chroma add,
  same model, same batch size, fresh collections each round; within a round
  every arm takes each batch in turn (the first rotating), so the machine's
  drift falls on all arms alike; prints the time ratio.
* **retrieval**: filtered ``Guard.search`` versus a bare Chroma query (same
  query vectors) for k = 5 and 10 on a store of ``--store-size`` sealed chunks
  (synthetic unit vectors, real texts cycled), and the bare query on two
  collections: the sealed one, and a plain copy with the same ids, texts and
  vectors and no ``rg_`` keys (what a user has before ragguard; the ratio to
  it is the headline, since Chroma pays per metadata key on every query).
  Prints p50 / p99 of each and the ratios. Query embedding is excluded from
  every arm: it is the same model call.
* audit throughput and memory by store size: ``bench/audit_perf.py``.

The 100k store is built once and cached (``bench/.cache/stores``, shared with
``audit_perf.py``).

Numbers depend on the machine; compare ratios, which are measured side by side.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import devdata  # noqa: E402

from ragguard import Guard, Settings  # noqa: E402
from ragguard.embedders import DEFAULT_MODEL_ID, SentenceTransformerEmbedder  # noqa: E402
from ragguard.provenance import Keyring  # noqa: E402
from ragguard.stores import ChromaStore  # noqa: E402


def texts(n: int, data: Path) -> list[str]:
    rows = devdata.load(data / "poisoning" / "reference.jsonl") + devdata.load(data / "poisoning" / "incoming.jsonl")
    clean = [r.text for r in rows if r.label == 0]
    return [clean[i % len(clean)] + ("" if i < len(clean) else f" ({i})") for i in range(n)]


def bench_ingest(emb: SentenceTransformerEmbedder, docs: list[str], tmp: Path, rounds: int, batch: int) -> None:
    """The three arms on the same passages, interleaved batch by batch.

    Each round gives every arm its own fresh store; then, batch by batch, every
    arm takes the same ``batch`` passages in turn (bare: encode + Chroma add;
    guard: one ``Guard.ingest`` call, so its per-call work counts against it),
    the arm that goes first rotating. This machine's speed drifts within a run
    by more than the guard costs, and whole-pass alternation let that drift
    fall on one arm (two runs of it gave 1.009 and 1.147); batch by batch it
    falls on all arms alike.
    """
    import chromadb

    print(f"\n### Ingest overhead ({len(docs)} passages, batch {batch}, {rounds} rounds, arms interleaved per batch)\n")
    emb.embed(docs[:8])  # load the model outside the timings
    per_round: dict[str, list[float]] = {"bare": [], "guard": [], "guard, overlap": []}
    recs = [{"id": str(i), "text": d} for i, d in enumerate(docs)]

    for r in range(rounds):
        client = chromadb.PersistentClient(path=str(tmp / f"bare{r}"))
        col = client.get_or_create_collection("bare", embedding_function=None, configuration={"hnsw": {"space": "ip"}})
        guards = {
            arm: Guard(
                ChromaStore(path=tmp / f"{arm}{r}"),
                emb,
                keyring=Keyring.generate(),
                settings=Settings(batch_size=batch, overlap_screening=overlap),
            )  # fmt: skip
            for arm, overlap in (("guard", False), ("guard, overlap", True))
        }
        this_round = dict.fromkeys(per_round, 0.0)
        for b, s in enumerate(range(0, len(docs), batch)):
            part = docs[s : s + batch]
            order = list(this_round)
            k = (r + b) % len(order)
            for arm in order[k:] + order[:k]:
                t = time.perf_counter()
                if arm == "bare":
                    col.add(ids=[f"{r}-{s + i}" for i in range(len(part))], embeddings=emb.embed(part), documents=part)
                else:
                    guards[arm].ingest(recs[s : s + batch], source="https://bench.example/", trust="untrusted")
                this_round[arm] += time.perf_counter() - t
        for arm, seconds in this_round.items():
            per_round[arm].append(seconds)
    spent = {arm: sum(seconds) for arm, seconds in per_round.items()}
    print("| | seconds per round (mean) | passages/s | ratio to bare | per-round ratios |")
    print("|---|---:|---:|---:|---|")
    labels = {
        "bare": "bare: encode + Chroma add",
        "guard": "Guard.ingest, default detectors and settings",
        "guard, overlap": "Guard.ingest, default detectors, `overlap_screening=True`",
    }
    for arm, label in labels.items():
        mean = spent[arm] / rounds
        ratios = ", ".join(f"{x / y:.3f}" for x, y in zip(per_round[arm], per_round["bare"], strict=True))
        print(f"| {label} | {mean:.1f} | {len(docs) / mean:.1f} | {spent[arm] / spent['bare']:.3f} | {ratios} |")
    print(f"\ningest overhead ratio (guard / bare): **{spent['guard'] / spent['bare']:.3f}**")


class FixedQueryEmbedder:
    """Returns the vector it is given, so Guard.search and the bare query use the same one."""

    model_id = DEFAULT_MODEL_ID
    weights_digest = "0" * 64

    def __init__(self) -> None:
        self.vector = np.zeros(384, dtype=np.float32)

    def embed(self, batch: list[str]) -> np.ndarray:
        return np.repeat(self.vector[None, :], len(batch), axis=0)


def plain_copy(sealed: Path) -> Path:
    """The sealed bench store's texts and vectors in a plain Chroma collection (built once, cached).

    What a user has before adopting ragguard: same ids, documents and vectors,
    one caller metadata key (``source``), no ``rg_`` keys. Chroma stores each
    metadata key as its own row, so this is the honest baseline for the cost
    of the seal's keys as well as of the filter.
    """
    import chromadb

    path = sealed.with_name(sealed.name + "-plain")
    if (path / "done").exists():
        return path
    src: Any = chromadb.PersistentClient(path=str(sealed / "chroma")).get_collection("ragguard")
    dst = chromadb.PersistentClient(path=str(path / "chroma")).get_or_create_collection(
        "plain",
        embedding_function=None,
        configuration={"hnsw": {"space": "ip"}},  # as ragguard's own
    )
    ids = src.get(include=[])["ids"]
    for s in range(0, len(ids), 1000):
        page = src.get(ids=ids[s : s + 1000], include=["documents", "embeddings"])
        meta = [{"source": "https://bench.example/"}] * len(page["ids"])
        dst.add(ids=page["ids"], documents=page["documents"], embeddings=page["embeddings"], metadatas=meta)
    (path / "done").write_text("ok")
    return path


def warm_page_cache(root: Path) -> None:
    """Read every file under ``root`` once, so neither arm pays for disk reads the other did not.

    A query reads the rows it returns from sqlite; 400 random queries touch pages
    all over a 100k-chunk store, and a store whose files are not in the OS cache
    (the plain copy, opened later) then looks slower for reasons of its own.
    """
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        with f.open("rb") as fh:
            while fh.read(1 << 24):
                pass


def bench_retrieval(guard: Guard, plain: Any, queries: int) -> None:
    served, _ = guard.collections()
    native: Any = served.native  # type: ignore[attr-defined]
    rng = np.random.default_rng(1)
    uniform = rng.normal(size=(queries, 384)).astype(np.float32)
    uniform /= np.linalg.norm(uniform, axis=1, keepdims=True)
    # Real traffic repeats itself: the same queries drawn Zipf-like (s = 1.1) from a
    # pool of 100, so popular chunks come back again and again.
    pool = uniform[:100]
    weights = 1.0 / np.arange(1, len(pool) + 1) ** 1.1
    repeated = pool[rng.choice(len(pool), size=queries, p=weights / weights.sum())]

    warm = rng.normal(size=(100, 384)).astype(np.float32)
    warm /= np.linalg.norm(warm, axis=1, keepdims=True)

    fixed = FixedQueryEmbedder()
    guard.embedder = fixed  # the query vector is given: embedding is the same model call on every arm
    no_cache = Guard(
        guard.store, fixed, settings=guard.settings.model_copy(update={"seal_cache_size": 0}),
        keyring=guard.keyring(), detectors=[],
    )  # fmt: skip

    def guarded_by(g: Guard) -> Callable[[np.ndarray, int], int]:
        def guarded(q: np.ndarray, k: int) -> int:
            fixed.vector = q
            return len(g.search("query", k=k).hits)

        return guarded

    def bare_on(col: Any, *, vectors: bool = False) -> Callable[[np.ndarray, int], int]:
        include = ["documents", "metadatas", "distances", *(["embeddings"] if vectors else [])]

        def bare(q: np.ndarray, k: int) -> int:
            res = col.query(query_embeddings=q[None, :], n_results=k, include=include)
            return len(res["ids"][0])

        return bare

    arms = {
        "plain": bare_on(plain),
        "sealed": bare_on(native),
        # What the filter cannot do without: the vectors, read back to check their sealed digest.
        "sealed+vectors": bare_on(native, vectors=True),
        "guarded": guarded_by(guard),
        "no cache": guarded_by(no_cache),
    }
    print(f"\n### Retrieval overhead ({served.count()} chunks, {queries} queries per row, arms rotating)\n")
    print(
        "| queries | k | bare, plain store: p50 / p99 ms | bare, sealed store | bare, sealed, with vectors | guarded "
        "| guarded, seal cache off | p50 ratio to plain | p50 ratio to plain, cache off | bare with vectors to plain "
        "| p50 ratio to sealed |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    names = list(arms)
    for label, qv in (("uniform", uniform), ("repeated (Zipf)", repeated)):
        for k in (5, 10):
            for q in warm:  # load and warm every index on vectors no row measures
                for fn in arms.values():
                    fn(q, k)
            times: dict[str, list[float]] = {n: [] for n in names}
            for i, q in enumerate(qv):
                # A later call with one query vector finds the earlier ones' pages cached:
                # rotate who goes first, so no arm always gets the warm cache.
                for name in names[i % len(names) :] + names[: i % len(names)]:
                    t = time.perf_counter()
                    arms[name](q, k)
                    times[name].append(time.perf_counter() - t)
            p = {n: (1000 * float(np.percentile(x, 50)), 1000 * float(np.percentile(x, 99))) for n, x in times.items()}
            cells = " | ".join(f"{p[n][0]:.2f} / {p[n][1]:.2f}" for n in names)
            print(
                f"| {label} | {k} | {cells} | **{p['guarded'][0] / p['plain'][0]:.2f}** | "
                f"{p['no cache'][0] / p['plain'][0]:.2f} | {p['sealed+vectors'][0] / p['plain'][0]:.2f} | "
                f"{p['guarded'][0] / p['sealed'][0]:.2f} |"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description="ragguard speed against the bare floor")
    ap.add_argument("--data", type=Path, default=devdata.DEFAULT_DATA)
    ap.add_argument("--passages", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--store-size", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--sections", default="ingest,retrieval")
    args = ap.parse_args()
    sections = set(args.sections.split(","))
    with tempfile.TemporaryDirectory() as tmpdir:
        if "ingest" in sections:
            docs = texts(args.passages, args.data)
            bench_ingest(SentenceTransformerEmbedder(batch_size=32), docs, Path(tmpdir), args.rounds, args.batch)
    if "retrieval" in sections:
        import audit_perf
        import chromadb

        sealed = audit_perf.build(args.store_size, args.data)
        plain_path = plain_copy(sealed) / "chroma"
        plain = chromadb.PersistentClient(path=str(plain_path)).get_collection("plain", embedding_function=None)
        for store in (sealed, plain_path):
            warm_page_cache(store)
        bench_retrieval(audit_perf.open_store(sealed, ()), plain, args.queries)


if __name__ == "__main__":
    main()
