"""Audit throughput and memory at several store sizes, each measured in a fresh process.

    python bench/audit_perf.py [--sizes 10000,100000] [--workers 0] [--reembed-passages 1000] [--nightly-only]
    python bench/audit_perf.py --large 1000000 [--shard 0/20]

For each size, a sealed Chroma store is built once (synthetic unit vectors,
real dev-set texts cycled; cached under ``bench/.cache/stores``) and then each
measurement runs in its own child process, so the peak RSS printed is the
audit's own, not the store build's:

* **bare read**: every page of the served collection with documents,
  metadatas and vectors, straight from chromadb: the floor any audit pays;
* **seals only**: ``Guard.audit`` with no detectors: the store walk (ids listed
  in big pages, content read by id) and every seal verified;
* **seals + text re-scan**: ``Guard.audit(full_rescan=True)`` with the default
  text detectors (instructions, hidden, obfuscation, query_targeting,
  token_artifacts), in process (``workers=1``) and with the text re-scan in
  worker processes: every text scanned again, as after a rule change;
* **nightly audit** (a second table): the same detectors with the default
  ``Guard.audit()``, which does not scan again the texts whose seal shows
  these same text rules found nothing in them (see
  ``ragguard/audit/incremental.py``), after one ``audit(restamp=True)`` pass
  (on a store built by other detector code, as after an upgrade, it re-seals
  the clean chunks under today's rules; on a fresh one it has nothing to do);
  the share of texts skipped is printed beside it;
* **bare kNN**: one kNN query (k = 10, ids and distances, 64 per call, calls
  one after another) per stored vector through Chroma's index: what a plain
  caller gets. The guard's adapter runs a big batch's calls in threads
  (Chroma releases the GIL while it searches), so the re-scan can beat it;
* **embedding-space re-scan**: ``Guard.audit`` with only the detectors that
  read vectors and the store (campaign: batched kNN through Chroma's index per
  page; classifier: the logistic heads), to print their chunks/s separately.

``--reembed-passages N`` also builds a store of N real passages embedded with
all-MiniLM-L6-v2 and compares ``audit(reembed=True)`` (all default detectors)
with the bare encoder's throughput on the same texts, in one process.

Ratios are what transfers between machines; absolute numbers are this machine's.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import devdata  # noqa: E402
from perf import texts  # noqa: E402

from ragguard import Guard, Settings  # noqa: E402
from ragguard._cpus import usable_cpus  # noqa: E402
from ragguard.audit.run import in_shard  # noqa: E402
from ragguard.cli.audit import parse_shard  # noqa: E402
from ragguard.detectors.registry import create  # noqa: E402
from ragguard.embedders import DEFAULT_MODEL_ID, SentenceTransformerEmbedder  # noqa: E402
from ragguard.provenance import Keyring  # noqa: E402
from ragguard.provenance.seal import RECORD_VERSION  # noqa: E402
from ragguard.stores import ChromaStore  # noqa: E402
from ragguard.stores.base import iter_id_batches  # noqa: E402

STORES = devdata.CACHE / "stores"
TEXT_DETECTORS = ("instructions", "hidden", "obfuscation", "query_targeting", "token_artifacts")
EMBEDDING_DETECTORS = ("campaign", "classifier")


class SyntheticEmbedder:
    """Random unit vectors under the default model's id, so the classifier runs as it would in production."""

    model_id = DEFAULT_MODEL_ID
    weights_digest = "0" * 64

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def embed(self, batch: list[str]) -> np.ndarray:
        v = self.rng.normal(size=(len(batch), 384)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def store_path(size: int) -> Path:
    # The seal layout is in the name ("s": screened at ingest by the text detectors, so seals carry
    # their screen id): a store built by older code keeps its own cache.
    return STORES / f"synthetic-{size}-v{RECORD_VERSION}s"


def build(size: int, data: Path) -> Path:
    """Build (once) a sealed store of ``size`` chunks, screened by the text detectors; the key is kept beside it.

    The seals record the screen id of the text detectors that built it: after
    an edit to ``ragguard/detectors`` the restamp pass re-seals them, as it
    would a user's store after an upgrade.
    """
    path = store_path(size)
    if (path / "done").exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    keyring = Keyring.generate()
    keyring.save(path / "bench-key.json")
    guard = Guard(
        ChromaStore(path=path / "chroma"), SyntheticEmbedder(), settings=Settings(batch_size=5000),
        keyring=keyring, detectors=[create(n) for n in TEXT_DETECTORS],
    )  # fmt: skip
    docs = texts(2000, data)
    t = time.perf_counter()
    step = 50_000
    for s in range(0, size, step):
        recs = [{"id": str(i), "text": f"{docs[i % len(docs)]} [{i}]"} for i in range(s, min(size, s + step))]
        guard.ingest(recs, source="https://bench.example/", trust="untrusted")
        print(f"  (built {min(size, s + step)}/{size} in {time.perf_counter() - t:.0f}s)", flush=True)
    (path / "done").write_text("ok")
    return path


def open_store(path: Path, detectors: tuple[str, ...]) -> Guard:
    """A guard over a built bench store, with the named detectors."""
    keyring = Keyring.load(path / "bench-key.json")
    return Guard(
        ChromaStore(path=path / "chroma"), SyntheticEmbedder(), keyring=keyring,
        detectors=[create(n) for n in detectors],
    )  # fmt: skip


def child(mode: str, path: Path, workers: int, shard: tuple[int, int] | None = None) -> dict[str, Any]:
    """One measurement in this (fresh) process; ``shard`` limits the walk to one shard's chunks."""
    skipped = restamped = 0
    if mode == "knn":
        # The embedding-space re-scan's floor: one kNN per stored vector, ids and distances only, asked
        # of Chroma directly as a plain caller would (one call per 64 vectors, one after another; the
        # guard's adapter spreads a big batch's calls over threads, so the re-scan can beat this).
        guard = open_store(path, ())
        served = guard.collections()[0]
        native: Any = served.native  # type: ignore[attr-defined]
        t = time.perf_counter()
        n = 0
        for ids, _ in iter_id_batches(served, 500, keep=lambda i: in_shard(i, shard)):
            page = served.get(ids) if ids else []
            if page:
                q = np.stack([np.asarray(c.embedding, dtype=np.float32) for c in page])
                for start in range(0, len(q), 64):
                    native.query(query_embeddings=q[start : start + 64], n_results=10, include=["distances"])
            n += len(page)
        seconds = time.perf_counter() - t
    elif mode == "open":
        # Chroma's own floor at this size: open the collection, list one id page, read one content page.
        guard = open_store(path, ())
        served = guard.collections()[0]
        t = time.perf_counter()
        ids, _ = next(iter_id_batches(served, 500))
        n = len(served.get(ids))
        seconds = time.perf_counter() - t
    elif mode == "read":
        guard = open_store(path, ())
        native: Any = guard.collections()[0].native  # type: ignore[attr-defined]
        t = time.perf_counter()
        n, offset = 0, 0
        while True:
            page = native.get(limit=500, offset=offset, include=["documents", "metadatas", "embeddings"])
            if not page["ids"]:
                break
            n += len(page["ids"])
            offset += 500
        seconds = time.perf_counter() - t
    else:
        with_text = ("text", "nightly", "restamp")
        detectors = TEXT_DETECTORS if mode in with_text else EMBEDDING_DETECTORS if mode == "embedding" else ()
        guard = open_store(path, detectors)
        guard.collections()  # opening the store (importing chromadb, about 2 s) is not throughput
        t = time.perf_counter()
        report = guard.audit(
            workers=workers, shard=shard, full_rescan=mode not in ("nightly", "restamp"), restamp=mode == "restamp"
        )
        seconds = time.perf_counter() - t
        n = report.counts.served
        skipped, restamped = report.counts.text_scan_skipped, report.counts.restamped
    return {"chunks": n, "seconds": seconds, "rss_mb": peak_rss_mb(), "skipped": skipped, "restamped": restamped}


def peak_rss_mb() -> float:
    """This process's own peak resident memory since it started.

    Linux's ``ru_maxrss`` survives ``exec``: a child started by a parent that had
    just built a store in-process reported the parent's peak (740 MB for every
    100k cell, bare read included). ``VmHWM`` belongs to the process's own
    address space, so it is read where there is one.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(mode: str, path: Path, workers: int = 1, shard: tuple[int, int] | None = None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", mode, "--path", str(path), "--workers", str(workers)]
    if shard is not None:
        cmd += ["--shard", f"{shard[0]}/{shard[1]}"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_sizes(sizes: list[int], workers: int, data: Path, nightly_only: bool = False) -> None:
    auto = workers or min(usable_cpus(), 8)
    nightly: dict[int, dict[str, dict[str, Any]]] = {}
    if not nightly_only:
        print(f"\n### Audit throughput (chunks/s) and the audit process's peak RSS, {usable_cpus()} usable CPUs\n")
        print(
            "| chunks | bare Chroma read | seals only | seals + text re-scan, 1 process | "
            f"seals + text re-scan, {auto} workers | ratio to bare read | bare kNN, 1 per chunk | "
            f"embedding-space re-scan | peak RSS MB: bare read / audit (text, {auto} w) |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        path = build(size, data)
        runs = {"seals": run_child("seals", path), "par": run_child("text", path, auto)}
        # After an upgrade no seal names today's rules: one --restamp pass re-seals the clean chunks
        # (on a store built by this code it finds nothing to do), then the nightly audit skips them.
        runs["restamp"] = run_child("restamp", path, auto)
        runs["nightly"] = run_child("nightly", path, auto)
        nightly[size] = runs
        if nightly_only:
            continue
        runs.update(
            read=run_child("read", path),
            one=run_child("text", path, 1),
            knn=run_child("knn", path),
            emb=run_child("embedding", path, 1),
        )
        rate = {k: v["chunks"] / v["seconds"] for k, v in runs.items()}
        print(
            f"| {size:,} | {rate['read']:.0f} | {rate['seals']:.0f} | {rate['one']:.0f} | **{rate['par']:.0f}** | "
            f"{rate['par'] / rate['read']:.2f} | {rate['knn']:.0f} | **{rate['emb']:.0f}** | "
            f"{runs['read']['rss_mb']:.0f} / {runs['par']['rss_mb']:.0f} |",
            flush=True,
        )
    print(f"\n### Nightly audit: texts sealed clean by today's rules are not scanned again ({auto} workers)\n")
    print(
        "| chunks | seals only | seals + full text re-scan | one-off `--restamp` pass (re-sealed) | "
        "nightly audit (texts skipped) | nightly / full re-scan | nightly / seals only | peak RSS MB (nightly) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size, runs in nightly.items():
        rate = {k: v["chunks"] / v["seconds"] for k, v in runs.items()}
        share = runs["nightly"]["skipped"] / max(1, runs["nightly"]["chunks"])
        print(
            f"| {size:,} | {rate['seals']:.0f} | {rate['par']:.0f} | {rate['restamp']:.0f} "
            f"({runs['restamp']['restamped']:,}) | **{rate['nightly']:.0f}** ({share:.1%}) | "
            f"{rate['nightly'] / rate['par']:.2f} | {rate['nightly'] / rate['seals']:.2f} | "
            f"{runs['nightly']['rss_mb']:.0f} |",
            flush=True,
        )


def bench_large(size: int, workers: int, data: Path, shard: tuple[int, int]) -> None:
    """The audit at one large size, where a full pass of every row is too slow to repeat.

    The bare offset-paged read is left out (Chroma skips offset rows one by one,
    so it grows with the square of the size); the seals-only and text re-scan
    rows walk the whole store; the kNN floor and the embedding-space re-scan walk
    one shard, against the whole store's index.
    """
    auto = workers or min(usable_cpus(), 8)
    path = build(size, data)
    print(f"\n### Audit at {size:,} chunks, {usable_cpus()} usable CPUs (kNN rows: shard {shard[0]}/{shard[1]})\n")
    print("| measure | chunks | seconds | chunks/s | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    for label, mode, w, sh in (
        ("Chroma's floor: open, list ids, read one page", "open", 1, None),
        ("seals only", "seals", 1, None),
        (f"seals + text re-scan, {auto} workers", "text", auto, None),
        (f"one-off --restamp pass, {auto} workers", "restamp", auto, None),
        (f"nightly audit (texts sealed clean skipped), {auto} workers", "nightly", auto, None),
        ("bare kNN, 1 per chunk", "knn", 1, shard),
        ("embedding-space re-scan", "embedding", 1, shard),
    ):
        r = run_child(mode, path, w, sh)
        rate = r["chunks"] / r["seconds"]
        print(f"| {label} | {r['chunks']:,} | {r['seconds']:.0f} | {rate:.0f} | {r['rss_mb']:.0f} |", flush=True)


def bench_reembed(n: int, data: Path, tmp: Path, rounds: int = 3) -> None:
    """``audit(reembed=True)`` against the bare encoder on the same chunks, in one process, alternating.

    Ingest cuts some passages into two overlapping chunks, so the audit embeds
    more text than the passages hold. The bare arm encodes exactly what the
    audit re-embeds: the stored chunk texts, in the pages of the audit's walk
    (read before the clock starts), so both arms give the model the same
    batches. Both rates count chunks.
    """
    docs = texts(n, data)
    emb = SentenceTransformerEmbedder(batch_size=32)
    guard = Guard(ChromaStore(path=tmp / "reembed"), emb, keyring=Keyring.generate())
    guard.ingest([{"id": str(i), "text": d} for i, d in enumerate(docs)], source="https://bench.example/")
    served, _ = guard.collections()
    pages = [[c.text for c in served.get(ids, include_embeddings=False)] for ids, _ in iter_id_batches(served, 500)]
    chunks = sum(map(len, pages))
    bare: list[float] = []
    audit: list[float] = []
    for _ in range(rounds):  # alternating, so a drift of the machine falls on both arms alike
        t = time.perf_counter()
        for page in pages:  # the audit's pages (its page size is 500)
            emb.embed(page)
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        report = guard.audit(reembed=True, workers=1)
        audit.append(time.perf_counter() - t)
        assert report.counts.reembedded == chunks, (report.counts.reembedded, chunks)
    b, a = float(np.median(bare)), float(np.median(audit))
    print(
        f"\n### Audit with --reembed ({n} real passages stored as {chunks} chunks, all default detectors, "
        f"medians of {rounds} rounds)\n"
    )
    print("| | chunks/s (median) | rounds |")
    print("|---|---:|---|")
    print(
        f"| bare encoder (all-MiniLM-L6-v2, the same chunk texts in the same pages) | {chunks / b:.1f} | "
        f"{', '.join(f'{chunks / x:.1f}' for x in bare)} |"
    )
    print(f"| audit --reembed | {chunks / a:.1f} | {', '.join(f'{chunks / x:.1f}' for x in audit)} |")
    print(f"\nthroughput ratio (audit / bare encoder): **{b / a:.3f}**")


def main() -> None:
    ap = argparse.ArgumentParser(description="ragguard audit throughput and memory by store size")
    ap.add_argument("--data", type=Path, default=devdata.DEFAULT_DATA)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--workers", type=int, default=0, help="text re-scan workers (0: one per CPU, up to 8)")
    ap.add_argument("--reembed-passages", type=int, default=1000, help="0 skips the --reembed comparison")
    ap.add_argument(
        "--child",
        choices=("open", "read", "seals", "knn", "text", "nightly", "restamp", "embedding"),
        help=argparse.SUPPRESS,
    )
    ap.add_argument(
        "--nightly-only", action="store_true", help="only the nightly table (seals, full re-scan, restamp, nightly)"
    )
    ap.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    ap.add_argument(
        "--large", type=int, metavar="SIZE", help="one big store (e.g. 1000000): no bare offset read, kNN on one shard"
    )
    ap.add_argument("--shard", help="with --large: the shard i/n the kNN and embedding-space rows walk (default 0/20)")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.path, args.workers, parse_shard(args.shard))))
        return
    if args.large:
        bench_large(args.large, args.workers, args.data, parse_shard(args.shard) or (0, 20))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if sizes:  # --sizes "" runs only the --reembed comparison
        bench_sizes(sizes, args.workers, args.data, args.nightly_only)
    if args.reembed_passages:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            bench_reembed(args.reembed_passages, args.data, Path(tmp))


if __name__ == "__main__":
    main()
