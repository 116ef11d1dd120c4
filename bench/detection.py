"""Detection quality and screening cost on the dev set, through the real pipeline.

    python bench/detection.py [--data ../shared/data/dev] [--in-sample] [--peers] [--quick] [--explain N] [--dump PATH]

What it does (all through ``Guard`` over a real embedded Chroma store and the
real all-MiniLM-L6-v2 embeddings):

* builds a store from ``poisoning/reference.jsonl`` as *trusted*;
* screens ``poisoning/incoming.jsonl`` as *untrusted*, once as one batch
  (``scan``) and once one passage per ``ingest`` call in a shuffled arrival
  order, each call seeing what earlier calls stored or quarantined;
* screens ``injection/documents.jsonl`` (against the same store);
* re-screens every injection positive obfuscated five ways;
* prints, per family, recall (positives) or FPR (clean) at the default
  policy, and recall at 1% FPR; then texts/s for the detectors alone, the
  whole ingest, and embedding alone.

The learned classifier is scored **out of fold** by default: each record is
scored by heads trained without its fold (folds keep campaigns, and each
document with its edited copies, together), so its contribution is not
measured on its own training data. ``--in-sample`` uses the shipped weights
instead (optimistic, for comparison).

Embeddings are computed once and cached (``bench/.cache``); the pipeline is
given a lookup embedder that returns the same vectors, so screening numbers
are identical to a live run and the bench finishes in minutes.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import devdata  # noqa: E402
from text_detectors_eval import OBFUSCATIONS, payload_span  # noqa: E402
from train_classifier import fold_groups, label_sets, load_rows  # noqa: E402

from ragguard import Guard, Settings  # noqa: E402
from ragguard.detectors.base import Detector, ScreeningBatch  # noqa: E402
from ragguard.detectors.classifier import EmbeddingClassifier, train  # noqa: E402
from ragguard.detectors.registry import DEFAULT_DETECTORS, create  # noqa: E402
from ragguard.embedders import DEFAULT_MODEL_ID, SentenceTransformerEmbedder  # noqa: E402
from ragguard.provenance import Keyring  # noqa: E402
from ragguard.records import InputRecord  # noqa: E402
from ragguard.stores import ChromaStore  # noqa: E402
from ragguard.types import Action, Finding, RecordVerdict  # noqa: E402

TRUSTED_SOURCE = "https://en.wikipedia.org/"
UNTRUSTED_SOURCE = "https://incoming.example/"


class LookupEmbedder:
    """Serves precomputed vectors of the real model; embeds anything else for real."""

    def __init__(self, real: SentenceTransformerEmbedder, table: dict[str, np.ndarray]) -> None:
        self.real = real
        self.table = table
        self.model_id = real.model_id

    @property
    def weights_digest(self) -> str:
        return self.real.weights_digest

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self.table]
        if missing:
            for t, v in zip(missing, self.real.embed(missing), strict=True):
                self.table[t] = v
        return np.stack([self.table[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)


class FoldClassifier:
    """The classifier scored out of fold: each record by heads trained without it."""

    name = "classifier"

    def __init__(self, rows: list[devdata.Row], x: np.ndarray, folds: int = 5) -> None:
        from sklearn.model_selection import GroupKFold

        labels = label_sets(rows)
        groups = np.array(fold_groups(rows))
        self.fold_of: dict[str, int] = {}
        self.models: list[EmbeddingClassifier] = []
        for k, (train_idx, test_idx) in enumerate(GroupKFold(folds).split(x, groups=groups)):
            for i in test_idx:
                self.fold_of[rows[i].id] = k
            sub = {n: (y[train_idx], m[train_idx]) for n, (y, m) in labels.items()}
            kinds = [rows[i].family for i in train_idx]
            clf, _ = train(x[train_idx], sub, list(groups[train_idx]), kinds=kinds)
            clf.info_ = {"embedder": DEFAULT_MODEL_ID}
            self.models.append(clf)

    def detect(self, batch: ScreeningBatch) -> list[list[Finding]]:
        out: list[list[Finding]] = []
        for i, c in enumerate(batch.chunks):
            # Obfuscated variants carry the id of the record they came from.
            k = self.fold_of.get(c.doc_id.split("#")[0], 0)
            sub = ScreeningBatch([c], batch.embeddings[i : i + 1], [batch.trust[i]], None, batch.embedder)
            out.append(self.models[k].detect(sub)[0])
        return out


def detectors(classifier: Detector) -> list[Detector]:
    return [classifier if n == "classifier" else create(n) for n in DEFAULT_DETECTORS]


def new_guard(path: Path, emb: Any, classifier: Detector, batch_size: int = 256) -> Guard:
    return Guard(
        ChromaStore(path=path),
        emb,
        settings=Settings(batch_size=batch_size),
        keyring=Keyring.generate(),
        detectors=detectors(classifier),
    )


def recs(rows: Sequence[devdata.Row], suffix: str = "") -> list[dict[str, str]]:
    return [{"id": r.id + suffix, "text": r.text} for r in rows]


def flagged(v: RecordVerdict) -> bool:
    return v.action is not Action.ALLOW


def recall_at_fpr(pos: np.ndarray, neg: np.ndarray, fpr: float = 0.01) -> float:
    """Recall at the lowest score threshold whose FPR on ``neg`` is at most ``fpr``."""
    if len(pos) == 0:
        return float("nan")
    for thr in np.unique(np.concatenate([pos, neg, [np.inf]])):
        if (neg >= thr).mean() <= fpr:
            return float((pos >= thr).mean())
    return 0.0


def report(
    title: str, rows: Sequence[devdata.Row], verdicts: Sequence[RecordVerdict], explain: int = 0
) -> dict[str, float]:
    fam = np.array([r.family for r in rows])
    lab = np.array([r.label for r in rows])
    hit = np.array([flagged(v) for v in verdicts])
    score = np.array([v.score for v in verdicts])
    neg = score[lab == 0]
    print(f"\n### {title}\n")
    print("| family | n | metric | at default policy | recall at 1% FPR |")
    print("|---|---:|---|---:|---:|")
    for f in sorted(set(fam), key=lambda f: (-lab[fam == f][0], f)):
        m = fam == f
        if lab[m][0] == 1:
            print(f"| {f} | {m.sum()} | recall | {hit[m].mean():.3f} | {recall_at_fpr(score[m], neg):.3f} |")
        else:
            print(f"| {f} | {m.sum()} | FPR | {hit[m].mean():.3f} | |")
    pos = lab == 1
    overall = {"recall": float(hit[pos].mean()) if pos.any() else float("nan"), "fpr": float(hit[~pos].mean())}
    print(
        f"| **all** | {len(rows)} | recall / FPR | {overall['recall']:.3f} / {overall['fpr']:.3f} | "
        f"{recall_at_fpr(score[pos], neg):.3f} |"
    )
    fp_codes: dict[str, int] = {}
    for v, r in zip(verdicts, rows, strict=True):
        if r.label == 0 and flagged(v):
            for code in sorted({f.code for f in v.findings}):
                fp_codes[code] = fp_codes.get(code, 0) + 1
    if fp_codes:
        print("\nfalse positives carry: " + ", ".join(f"{c} x{n}" for c, n in sorted(fp_codes.items())))
    if explain:
        explain_errors(rows, verdicts, explain)
    return overall


def dump(path: Path, sections: Sequence[tuple[str, Sequence[devdata.Row], Sequence[RecordVerdict]]]) -> None:
    """Write one JSON line per screened record: its section, labels, score and findings."""
    with path.open("w", encoding="utf-8") as fh:
        for section, rows, verdicts in sections:
            for r, v in zip(rows, verdicts, strict=True):
                found = [[f.detector, f.code, f.score] for f in v.findings]
                line = {"section": section, "id": r.id, "family": r.family, "label": r.label, "score": v.score}
                fh.write(json.dumps({**line, "action": v.action.value, "findings": found}) + "\n")
    print(f"\n(wrote every verdict to {path})")


def explain_errors(rows: Sequence[devdata.Row], verdicts: Sequence[RecordVerdict], limit: int) -> None:
    """Print up to ``limit`` false positives and ``limit`` missed positives with their findings."""
    for label, what in ((0, "false positive"), (1, "missed")):
        shown = 0
        for r, v in zip(rows, verdicts, strict=True):
            if r.label != label or flagged(v) != (label == 0) or shown >= limit:
                continue
            shown += 1
            found = ", ".join(f"{f.code} {f.score:.2f}" for f in v.findings) or "no findings"
            print(f"\n- {what} {r.id} ({r.family}), score {v.score:.2f}: {found}\n  {r.text[:300]!r}")


def obfuscated(rows: list[devdata.Row], seed: int) -> dict[str, list[devdata.Row]]:
    by_id: dict[str, object] = {r.id: {"id": r.id, "text": r.text} for r in rows}
    out: dict[str, list[devdata.Row]] = {}
    for name, fn in OBFUSCATIONS.items():
        rng = random.Random(seed)
        variants = []
        for r in rows:
            if r.label != 1:
                continue
            a, b = payload_span({"id": r.id, "text": r.text}, by_id)  # type: ignore[arg-type]
            core = r.text[a:b]
            # The whitespace around the payload stays outside the encoding (as in
            # text_detectors_eval.py): encoded with it, the run is glued to the word before
            # it ("VikingsQ29t...") and no longer an encoded token a model could decode.
            lead, trail = core[: len(core) - len(core.lstrip())], core[len(core.rstrip()) :]
            text = r.text[:a] + lead + fn(core.strip(), rng) + trail + r.text[b:]
            variants.append(devdata.Row(f"{r.id}#{name}", text, 1, r.family, r.dataset, r.group))
        out[name] = variants
    return out


def speed(emb_real: SentenceTransformerEmbedder, rows: list[devdata.Row], classifier: Detector, tmp: Path) -> None:
    texts = [r.text for r in rows]
    print("\n### Screening cost (texts/s, this machine)\n")
    t = time.perf_counter()
    vecs = emb_real.embed(texts)
    t_embed = time.perf_counter() - t
    g = new_guard(tmp / "speed", emb_real, classifier)
    g.ingest(recs(rows[:50], "-warm"), source=TRUSTED_SOURCE, trust="trusted")
    view = g._view()
    from ragguard.types import Chunk, TrustTier

    chunks = [Chunk(f"c{i}", t_, UNTRUSTED_SOURCE, f"d{i}", 0) for i, t_ in enumerate(texts)]
    batch = ScreeningBatch(chunks, vecs, [TrustTier.UNTRUSTED] * len(chunks), view, emb_real.model_id)
    per: dict[str, float] = {}
    for d in g.detectors:
        t = time.perf_counter()
        d.detect(batch)
        per[d.name] = time.perf_counter() - t
    t_det = sum(per.values())
    t = time.perf_counter()
    g.ingest(recs(rows), source=UNTRUSTED_SOURCE, trust="untrusted")
    t_ingest = time.perf_counter() - t
    n = len(texts)
    print("| stage | texts/s |")
    print("|---|---:|")
    print(f"| embedding alone (all-MiniLM-L6-v2, CPU) | {n / t_embed:.1f} |")
    print(f"| all detectors, on precomputed embeddings | {n / t_det:.0f} |")
    for name, s in per.items():
        print(f"| - {name} | {n / s:.0f} |")
    print(f"| whole ingest (embed + detect + seal + Chroma write) | {n / t_ingest:.1f} |")
    print(f"\nwhole ingest / embedding alone time ratio: {t_ingest / t_embed:.3f}")


def seam_cost(g: Guard, rows: list[devdata.Row]) -> None:
    """What reading across chunk boundaries adds to the text detectors, on the records cut into several chunks."""
    from ragguard.detectors.base import detect_texts, split_detectors
    from ragguard.screening import SeamContext

    split = [(r.text, cs) for r, cs in g._chunks([InputRecord(r.id, r.text, UNTRUSTED_SOURCE) for r in rows])]
    split = [(t, cs) for t, cs in split if len(cs) > 1]
    if not split:
        return
    text_detectors = split_detectors(g.detectors)[0]
    t = time.perf_counter()
    detect_texts(text_detectors, [c.text for _, cs in split for c in cs])
    t_chunks = time.perf_counter() - t
    t = time.perf_counter()
    SeamContext(g.detectors, split, g._chunker().overlap).upto(1)
    t_seams = time.perf_counter() - t
    boundaries = sum(len(cs) - 1 for _, cs in split)
    print(
        f"\nchunk seams: {len(split)} records cut into several chunks ({boundaries} boundaries); the text detectors "
        f"take {t_chunks:.2f} s on their chunks and {t_seams:.2f} s more on the seams (+{t_seams / t_chunks:.0%})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description="ragguard detection benchmark on the dev set")
    ap.add_argument("--data", type=Path, default=devdata.DEFAULT_DATA)
    ap.add_argument("--in-sample", action="store_true", help="use the shipped classifier weights (optimistic)")
    ap.add_argument("--peers", action="store_true", help="also run installed offline peers on the same texts")
    ap.add_argument("--quick", action="store_true", help="skip the one-per-call and speed sections")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dump", type=Path, help="write every verdict (id, family, label, score, findings) to this JSONL")
    ap.add_argument(
        "--explain", type=int, default=0, metavar="N", help="print N false positives and N misses per section"
    )
    args = ap.parse_args()

    rows = load_rows(args.data)
    ref_ids = {x.id for x in devdata.load(args.data / "poisoning" / "reference.jsonl")}
    inc_ids = {x.id for x in devdata.load(args.data / "poisoning" / "incoming.jsonl")}
    ref = [r for r in rows if r.id in ref_ids]
    inc = [r for r in rows if r.id in inc_ids]
    inj = [r for r in rows if r.dataset.startswith("inj:")]
    emb_real = SentenceTransformerEmbedder()
    x = devdata.embed_cached([r.text for r in rows], emb_real, "dev")
    emb = LookupEmbedder(emb_real, {r.text: v for r, v in zip(rows, x, strict=True)})
    classifier: Detector = EmbeddingClassifier() if args.in_sample else FoldClassifier(rows, x)
    print(f"classifier: {'shipped weights (in-sample)' if args.in_sample else 'out-of-fold (5 group folds)'}")

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        g = new_guard(tmp / "batch", emb, classifier, batch_size=5000)
        g.ingest(recs(ref), source=TRUSTED_SOURCE, trust="trusted")
        t = time.perf_counter()
        batch_v = g.scan(recs(inc), source=UNTRUSTED_SOURCE, trust="untrusted")
        print(f"(screened {len(inc)} incoming passages as one batch in {time.perf_counter() - t:.1f}s)")
        report("Poisoning, one batch (incoming.jsonl as untrusted)", inc, batch_v, args.explain)

        if not args.quick:
            gs = new_guard(tmp / "stream", emb, classifier)
            gs.ingest(recs(ref), source=TRUSTED_SOURCE, trust="trusted")
            order = list(range(len(inc)))
            random.Random(args.seed).shuffle(order)
            stream_v: list[RecordVerdict | None] = [None] * len(inc)
            t = time.perf_counter()
            for i in order:
                stream_v[i] = gs.ingest(recs([inc[i]]), source=UNTRUSTED_SOURCE, trust="untrusted").records[0]
            print(f"\n(ingested {len(inc)} passages one per call in {time.perf_counter() - t:.1f}s)")
            report("Poisoning, one passage per ingest call (shuffled arrival)", inc, [v for v in stream_v if v])

        inj_v = g.scan(recs(inj), source=UNTRUSTED_SOURCE, trust="untrusted")
        report("Injection (documents.jsonl as untrusted)", inj, inj_v, args.explain)
        if args.dump:
            dump(args.dump, [("poisoning", inc, batch_v), ("injection", inj, inj_v)])
        seam_cost(g, inj)

        print("\n### Obfuscated injection positives (recall at the default policy)\n")
        plain = np.array([flagged(v) for v, r in zip(inj_v, inj, strict=True) if r.label == 1]).mean()
        print(f"| variant | recall | vs plain ({plain:.3f}) |")
        print("|---|---:|---:|")
        for name, variants in obfuscated(inj, args.seed).items():
            vs = g.scan(recs(variants), source=UNTRUSTED_SOURCE, trust="untrusted")
            r = np.array([flagged(v) for v in vs]).mean()
            print(f"| {name} | {r:.3f} | {r - plain:+.3f} |")

        if args.peers:
            import peers

            peers.run_all(inc, inj)
        if not args.quick:
            sample = [r for r in inc if r.label == 0][:200] + [r for r in inj if r.label == 0][:300]
            speed(emb_real, sample, classifier, tmp)


if __name__ == "__main__":
    main()
