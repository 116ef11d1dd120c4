"""How much the audit bench's synthetic vectors understate Chroma's kNN speed on real embeddings.

    python bench/knn_vectors.py [--sizes 6000,19000,38000] [--rounds 3]

``bench/audit_perf.py`` fills its stores with Gaussian unit vectors: any size is
cheap to build, but 384 independent dimensions are the hardest case for an
HNSW graph, so its kNN rows (and the embedding-space re-scan built on them) are
a pessimistic floor. This compares, at equal sizes, Chroma's kNN on
all-MiniLM-L6-v2 embeddings of real sentences with Gaussian unit vectors:

* sentences: every 6-60 word sentence of the documentation ``bench/local_docs.py``
  reads (package READMEs, the standard library's pydoc, ``/usr/share/doc``) and
  of the dev set, deduplicated (about 38,000 here; the count depends on what is
  installed), shuffled with a fixed seed, embedded once with the shipped model and
  cached under ``bench/.cache`` (about 10 minutes on 2 cores);
* per size, one collection of each kind (cosine, Chroma's default HNSW settings);
* per round, 2,048 stored vectors of each collection asked for their 10 nearest
  (ids and distances, 64 per call), in series and from 2 threads, the arms in turn.

It prints queries/s per arm (medians over rounds) and the real/Gaussian ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))
import devdata  # noqa: E402
from local_docs import package_readmes, stdlib_pydoc, system_docs  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
# pydoc prints default objects with their address, which changes from run to run.
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def sentences(data: Path) -> list[str]:
    """The distinct 6-60 word sentences of the local documentation and the dev set, in a fixed order."""
    texts = [t for _, t in package_readmes() + stdlib_pydoc() + system_docs()]
    for name in ("injection/documents.jsonl", "poisoning/incoming.jsonl", "poisoning/reference.jsonl"):
        texts += [row.text for row in devdata.load(data / name)]
    seen: set[str] = set()
    out: list[str] = []
    for text in texts:
        for piece in _SENTENCE_END.split(text):
            s = _ADDRESS.sub("", " ".join(piece.split()))
            words = len(s.split())
            if 6 <= words <= 60 and sum(c.isalpha() for c in s) > 0.6 * len(s) and s not in seen:
                seen.add(s)
                out.append(s)
    return out


def real_vectors(data: Path) -> npt.NDArray[np.float32]:
    """The sentences' embeddings (cached by the sentences' digest), shuffled with a fixed seed."""
    found = sentences(data)
    digest = hashlib.sha256(json.dumps(found).encode()).hexdigest()[:24]
    path = CACHE / f"sentences-{digest}.npy"
    if not path.exists():
        from ragguard.embedders.sentence_transformers import SentenceTransformerEmbedder

        print(f"embedding {len(found)} sentences once (cached as {path.name}) ...", file=sys.stderr)
        CACHE.mkdir(parents=True, exist_ok=True)
        vectors = np.asarray(SentenceTransformerEmbedder().embed(found), dtype=np.float32)
        np.save(path, vectors)
    vectors = np.load(path)
    return vectors[np.random.default_rng(1).permutation(len(vectors))]


def per_second(query: Callable[[npt.NDArray[np.float32]], Any], q: npt.NDArray[np.float32], threads: int) -> float:
    """Queries per second asking ``q`` in calls of 64, in series or from ``threads`` threads."""
    parts = [q[i : i + 64] for i in range(0, len(q), 64)]
    t = time.perf_counter()
    if threads == 1:
        for p in parts:
            query(p)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(query, parts))
    return len(q) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="6000,19000,38000")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", type=Path, default=devdata.DEFAULT_DATA)
    args = ap.parse_args()
    import chromadb

    real = real_vectors(args.data)
    sizes = [int(s) for s in args.sizes.split(",")]
    if max(sizes) > len(real):
        raise SystemExit(f"only {len(real)} real sentence vectors here: pass --sizes up to that")
    rng = np.random.default_rng(1)
    client = chromadb.PersistentClient(path=tempfile.mkdtemp(prefix="rg-knn-"))
    collections: dict[tuple[str, int], tuple[Any, npt.NDArray[np.float32]]] = {}
    for n in sizes:
        gauss = rng.normal(size=(n, real.shape[1])).astype(np.float32)
        gauss /= np.linalg.norm(gauss, axis=1, keepdims=True)
        for kind, vectors in (("real", real[:n]), ("gaussian", gauss)):
            col = client.create_collection(f"{kind}-{n}", metadata={"hnsw:space": "cosine"})
            for i in range(0, n, 5000):
                col.add(ids=[str(j) for j in range(i, min(n, i + 5000))], embeddings=vectors[i : i + 5000])
            collections[(kind, n)] = (col, vectors)
    rates: dict[tuple[str, int, int], list[float]] = {}
    for _ in range(args.rounds):
        for (kind, n), (col, vectors) in collections.items():
            q = vectors[rng.integers(0, n, 2048)]

            def ask(p: npt.NDArray[np.float32], col: Any = col) -> Any:
                return col.query(query_embeddings=p, n_results=10, include=["distances"])

            for threads in (1, 2):
                rates.setdefault((kind, n, threads), []).append(per_second(ask, q, threads))
    print("| vectors in the collection | kNN calls | real sentences, q/s | Gaussian, q/s | real / Gaussian |")
    print("|---:|---|---:|---:|---:|")
    for n in sizes:
        for threads in (1, 2):
            r, g = (statistics.median(rates[(kind, n, threads)]) for kind in ("real", "gaussian"))
            how = "in series" if threads == 1 else "2 threads"
            print(f"| {n:,} | {how} | {r:,.0f} | {g:,.0f} | {r / g:.2f} |")


if __name__ == "__main__":
    main()
