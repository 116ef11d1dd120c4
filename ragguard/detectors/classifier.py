"""A learned detector at zero extra inference cost: linear heads over the chunk embeddings.

The pipeline already embeds every chunk; a logistic-regression head per
attack family (``injection``, ``poisoning``) reads the same vectors, so
screening costs one matrix product. Weights ship in
``ragguard/detectors/data/classifier.npz`` with a JSON sidecar recording how
they were trained (data, licences, counts, cross-validated metrics) and the
npz's SHA-256, which is verified at load like the embedder's weights.

Calibration: each head stores ``threshold``, the probability that at most 1%
of held-out clean texts (2% of each kind of text) reach, out of fold. A
finding scores 0.4 at that threshold: the head corroborates other cues, and
quarantines alone only well past it; below it the score falls off fast.

Out of its training distribution a head can be confidently wrong. On
documentation outside the dev set (``bench/local_docs.py``: installed
packages' READMEs, the standard library's pydoc, ``/usr/share/doc``) the
injection head alone quarantined changelogs, contributor lists and benchmark
output, while the poisoning head flagged nothing. So the heads named in
``corroborate_only`` (the injection head by default) are capped at
:data:`CORROBORATING_MAX`: they raise other cues over the line but never
quarantine a chunk on their own.

Retrain on your own labelled data with :func:`train` (needs scikit-learn).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ragguard.detectors.base import ScreeningBatch
from ragguard.errors import ConfigurationError, IntegrityError
from ragguard.types import Finding

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_WEIGHTS = DATA_DIR / "classifier.npz"
MIN_SCORE = 0.2  # findings weaker than this are noise
#: Score at the calibrated threshold, and at p = 1. Below the 0.5 quarantine
#: line at the threshold on purpose: at 1-2% false positives per kind of text
#: the head corroborates other cues, and decides alone only past the midpoint
#: between its threshold and certainty.
AT_THRESHOLD = 0.4
AT_ONE = 0.6
#: The most a corroborate-only head scores: below the 0.5 quarantine line.
CORROBORATING_MAX = 0.45

_WHY = {
    "injection": "its embedding is close to instructions aimed at an AI model (learned from labelled injections)",
    "poisoning": "its embedding matches planted, answer-shaped passages (learned from PoisonedRAG campaigns)",
}
_CODES = {"injection": "RG-ML-001", "poisoning": "RG-ML-002"}


@dataclass(frozen=True)
class Head:
    """One linear head: ``p = sigmoid(x @ coef + intercept)``; ``threshold`` is p at 1% FPR."""

    name: str
    coef: npt.NDArray[np.float32]
    intercept: float
    threshold: float

    def probability(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Probability of the attack class for each row of ``x``."""
        z = np.asarray(x, dtype=np.float64) @ self.coef.astype(np.float64) + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def score(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Calibrated score: ``AT_THRESHOLD`` at ``threshold``, rising linearly to ``AT_ONE`` at p = 1."""
        p = self.probability(x)
        t = min(max(self.threshold, 1e-6), 1 - 1e-6)
        low = AT_THRESHOLD * (p / t) ** 2
        high = AT_THRESHOLD + (AT_ONE - AT_THRESHOLD) * (p - t) / (1 - t)
        return np.where(p < t, low, high)


class EmbeddingClassifier:
    """Linear heads over the pipeline's embeddings.

    Args:
        weights: An npz written by :meth:`save`; the shipped default when None.
        expected_sha256: Pin for the npz; the sidecar's digest when None.
        corroborate_only: Heads whose scores are capped at :data:`CORROBORATING_MAX`,
            so they never quarantine a chunk alone.
    """

    name = "classifier"

    def __init__(
        self,
        weights: Path | None = None,
        expected_sha256: str | None = None,
        corroborate_only: Collection[str] = ("injection",),
    ) -> None:
        self.weights = weights
        self.expected_sha256 = expected_sha256
        # A bare string is one head's name, not a collection of one-letter names.
        self.corroborate_only = frozenset([corroborate_only] if isinstance(corroborate_only, str) else corroborate_only)
        self.heads_: dict[str, Head] | None = None
        self.info_: dict[str, Any] = {}
        self._warned = False

    # -- loading ------------------------------------------------------------
    def _load(self) -> dict[str, Head]:
        if self.heads_ is not None:
            return self.heads_
        path = self.weights or DEFAULT_WEIGHTS
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"classifier weights {path} cannot be read ({exc.strerror})") from None
        info_path = path.with_suffix(".json")
        info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
        expected = self.expected_sha256 or info.get("sha256")
        digest = hashlib.sha256(raw).hexdigest()
        if expected is not None and digest != expected:
            raise IntegrityError(
                f"classifier weights {path} do not match their digest: expected {expected}, found {digest}"
            )
        with np.load(path) as z:
            heads = {
                name: Head(
                    name,
                    z[f"{name}_coef"].astype(np.float32),
                    float(z[f"{name}_intercept"]),
                    float(z[f"{name}_threshold"]),
                )
                for name in (str(n) for n in z["heads"])
            }
        self.heads_, self.info_ = heads, info
        return heads

    # -- scoring (pure) --------------------------------------------------------
    def detect(self, batch: ScreeningBatch) -> list[list[Finding]]:
        """One finding per chunk, from its strongest head, when that head's calibrated score reaches MIN_SCORE."""
        heads = self._load()
        out: list[list[Finding]] = [[] for _ in batch.chunks]
        x = np.asarray(batch.embeddings, dtype=np.float32)
        if not heads or len(x) == 0:
            return out
        dim = next(iter(heads.values())).coef.shape[0]
        trained_for = self.info_.get("embedder")
        if x.shape[1] != dim or (batch.embedder and trained_for and batch.embedder != trained_for):
            if not self._warned:
                log.warning(
                    "classifier skipped: trained for %s (%d-d), the pipeline uses %s (%d-d); retrain it with "
                    "ragguard.detectors.classifier.train",
                    trained_for,
                    dim,
                    batch.embedder or "another embedder",
                    x.shape[1],
                )
                self._warned = True
            return out
        # The heads are linear probes of one vector, not independent witnesses:
        # the policy's noisy-OR would count one embedding twice (two heads at
        # 0.4 alone make 0.64), so a chunk gets the strongest head's finding.
        names = list(heads)
        caps = np.array([CORROBORATING_MAX if n in self.corroborate_only else 1.0 for n in names])
        scores = np.minimum(np.stack([heads[n].score(x) for n in names]), caps[:, None])
        best = scores.argmax(axis=0)
        for i in range(len(x)):
            s = float(scores[best[i], i])
            if s < MIN_SCORE:
                continue
            name = names[best[i]]
            also = [n for j, n in enumerate(names) if j != best[i] and scores[j, i] >= MIN_SCORE]
            note = f" (the {', '.join(also)} head also scores it)" if also else ""
            if name in self.corroborate_only and s >= CORROBORATING_MAX:
                note += "; this head only corroborates other cues, so its score is capped"
            out[i].append(
                Finding(
                    detector=self.name,
                    code=_CODES.get(name, "RG-ML-900"),
                    score=round(s, 4),
                    explanation=f"The {name} classifier scores this chunk {s:.2f}: "
                    f"{_WHY.get(name, 'learned from labelled data')}{note}.",
                )
            )
        return out

    # -- training --------------------------------------------------------------
    def save(self, path: Path, info: Mapping[str, Any]) -> str:
        """Write heads to ``path`` (npz) and ``info`` + the npz digest to ``path.json``; return the digest."""
        heads = self._load() if self.heads_ is None else self.heads_
        arrays: dict[str, Any] = {"heads": np.array(list(heads))}
        for name, h in heads.items():
            arrays[f"{name}_coef"] = h.coef.astype(np.float32)
            arrays[f"{name}_intercept"] = np.float64(h.intercept)
            arrays[f"{name}_threshold"] = np.float64(h.threshold)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            np.savez(fh, **arrays)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        meta = {**info, "sha256": digest}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return digest


def fit_head(
    name: str,
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.int_],
    groups: Sequence[str],
    *,
    c: float = 1.0,
    folds: int = 5,
    target_fpr: float = 0.01,
    kinds: Sequence[str] | None = None,
    kind_fpr: float = 0.02,
) -> tuple[Head, npt.NDArray[np.float64]]:
    """Fit one head; calibrate its threshold on out-of-fold probabilities.

    Folds keep each group (e.g. one attack campaign) together, so the
    threshold is not tuned on near-copies of the training positives. With
    ``kinds`` (a kind of text per row, e.g. "encyclopedia", "man page"), the
    threshold also holds ``kind_fpr`` on *every* kind of clean text, not just
    ``target_fpr`` on their pool: easy negatives must not hide a kind the head
    confuses.

    Returns:
        The head, and the out-of-fold probabilities (for honest evaluation).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_predict

    def model() -> Any:
        return LogisticRegression(C=c, max_iter=5000, class_weight="balanced")

    oof = cross_val_predict(model(), x, y, groups=list(groups), cv=GroupKFold(folds), method="predict_proba")[:, 1]
    neg = y == 0
    threshold = float(np.quantile(oof[neg], 1.0 - target_fpr))
    if kinds is not None:
        k = np.asarray(kinds)
        for kind in set(k[neg]):
            threshold = max(threshold, float(np.quantile(oof[neg & (k == kind)], 1.0 - kind_fpr)))
    clf = model().fit(x, y)
    head = Head(name, clf.coef_[0].astype(np.float32), float(clf.intercept_[0]), threshold)
    return head, oof


def train(
    x: npt.NDArray[np.float32],
    labels: Mapping[str, tuple[npt.NDArray[np.int_], npt.NDArray[np.bool_]]],
    groups: Sequence[str],
    kinds: Sequence[str] | None = None,
    **kwargs: Any,
) -> tuple[EmbeddingClassifier, dict[str, npt.NDArray[np.float64]]]:
    """Train one head per entry of ``labels`` (``name -> (y, rows to use)``).

    ``kinds`` (optional, one per row) calibrates each head per kind of clean text.

    Returns:
        A classifier holding the heads, and each head's out-of-fold probabilities.
    """
    clf = EmbeddingClassifier()
    heads: dict[str, Head] = {}
    oofs: dict[str, npt.NDArray[np.float64]] = {}
    g = np.asarray(groups)
    for name, (y, mask) in labels.items():
        sub_kinds = list(np.asarray(kinds)[mask]) if kinds is not None else None
        heads[name], oofs[name] = fit_head(name, x[mask], y[mask], list(g[mask]), kinds=sub_kinds, **kwargs)
    clf.heads_ = heads
    return clf, oofs
