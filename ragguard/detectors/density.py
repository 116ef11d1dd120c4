"""Density outliers: untrusted passages far from everything trusted.

A fitted detector in the scikit-learn style: :meth:`fit` learns, from the
trusted reference, how far a trusted passage usually is from its ``k``
nearest trusted neighbours (leave-one-out), and keeps a high percentile as
``threshold_``. At screening time an untrusted chunk's mean distance to its
``k`` nearest *trusted* stored chunks (through the store's own kNN index)
above ``threshold_`` is flagged.

This is a weak cue on purpose (at most 0.3): a new, legitimate topic is also
far from the corpus, and PoisonedRAG passages are written to sit *near* their
target. It catches off-topic junk and corpus drift, and adds to other cues.
When not fitted explicitly, it calibrates itself once from a sample of the
store's trusted chunks.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ragguard.detectors.base import ScreeningBatch
from ragguard.provenance.seal import TRUST_KEY
from ragguard.stores.base import StoreView, iter_pages
from ragguard.types import Finding, TrustTier

MAX_SCORE = 0.3


class DensityOutlierDetector:
    """kNN-distance outliers against the trusted corpus.

    Args:
        k: Neighbours averaged.
        percentile: Percentile of the reference's leave-one-out kNN distances
            used as the threshold.
        sample: Most trusted chunks read from the store to calibrate.
        min_reference: Fewer trusted chunks than this: no calibration, no findings.
    """

    name = "density"

    def __init__(self, k: int = 5, percentile: float = 99.0, sample: int = 5000, min_reference: int = 50) -> None:
        self.k = k
        self.percentile = percentile
        self.sample = sample
        self.min_reference = min_reference
        self.threshold_: float | None = None
        self.spread_: float = 0.1
        self.n_reference_: int = 0

    def fit(self, reference: npt.NDArray[np.float32]) -> DensityOutlierDetector:
        """Learn the threshold from trusted reference embeddings (unit rows)."""
        from sklearn.neighbors import NearestNeighbors

        x = np.asarray(reference, dtype=np.float32)
        k = min(self.k, len(x) - 1)
        if k < 1:
            raise ValueError("density calibration needs at least two reference embeddings")
        nn = NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(x)
        dist, _ = nn.kneighbors(x)
        loo = dist[:, 1:].mean(axis=1)  # column 0 is the point itself
        self.threshold_ = float(np.percentile(loo, self.percentile))
        self.spread_ = max(float(np.percentile(loo, 99.9) - np.percentile(loo, 50)), 1e-3)
        self.n_reference_ = len(x)
        return self

    def _calibrate_from_store(self, store: StoreView) -> None:
        vecs: list[npt.NDArray[np.float32]] = []
        for page in iter_pages(store.served, 1000):
            if len(vecs) >= self.sample:
                break
            vecs.extend(
                np.asarray(c.embedding, dtype=np.float32)
                for c in store.checked(page)  # a planted "trusted" chunk must not shape the reference
                if c.embedding is not None and c.metadata.get(TRUST_KEY) == TrustTier.TRUSTED.value
            )
        if len(vecs) >= self.min_reference:
            self.fit(np.stack(vecs[: self.sample]))

    def detect(self, batch: ScreeningBatch) -> list[list[Finding]]:
        """Flag untrusted chunks whose trusted neighbourhood is unusually far."""
        out: list[list[Finding]] = [[] for _ in batch.chunks]
        if batch.store is None:
            return out
        if self.threshold_ is None:
            self._calibrate_from_store(batch.store)
            if self.threshold_ is None:
                return out
        idx = [i for i, t in enumerate(batch.trust) if t is not TrustTier.TRUSTED]
        if not idx:
            return out
        vecs = np.asarray(batch.embeddings, dtype=np.float32)[idx]
        # Over-fetch: untrusted neighbours are skipped, only trusted ones define density.
        # A chunk already stored is not its own neighbour.
        nb = batch.store.nearest(vecs, self.k * 3, exclude=[batch.chunks[i].id for i in idx])
        for j, i in enumerate(idx):
            trusted = [
                d
                for d, m in zip(nb.distances[j], nb.metadatas[j], strict=True)
                if m.get(TRUST_KEY) == TrustTier.TRUSTED.value
            ][: self.k]
            if len(trusted) < self.k:
                continue
            dist = float(np.mean(trusted))
            if dist > self.threshold_:
                score = min(MAX_SCORE, 0.15 + 0.15 * (dist - self.threshold_) / self.spread_)
                out[i].append(
                    Finding(
                        detector=self.name,
                        code="RG-DEN-001",
                        score=round(score, 4),
                        explanation=(
                            f"Its {self.k} nearest trusted passages are {dist:.2f} away on average; 99% of "
                            f"trusted passages are within {self.threshold_:.2f} of theirs: far from everything trusted."
                        ),
                    )
                )
        return out
