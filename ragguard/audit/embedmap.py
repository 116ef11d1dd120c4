"""The 2-D embedding map: a bounded random sample of the store plus every flagged chunk, by PCA.

Memory stays flat in store size: clean chunks go through a reservoir sample
(Algorithm R) of at most ``size`` vectors; flagged chunks are few by nature and
all kept, so none is missing from the picture.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ragguard.audit.results import EmbeddingMap, MapPoint

#: Default bound on the clean sample.
DEFAULT_SAMPLE = 5000
#: Flagged chunks kept at most (a pathological store should not blow memory up).
MAX_FLAGGED = 20_000


class MapSampler:
    """Collects vectors while the audit streams the store.

    Args:
        size: Most clean chunks kept.
        seed: Seed for the reservoir (fixed, so nightly maps are comparable).
    """

    def __init__(self, size: int = DEFAULT_SAMPLE, seed: int = 0) -> None:
        self.size = size
        self._rng = np.random.default_rng(seed)
        self._clean: list[tuple[str, npt.NDArray[np.float32]]] = []
        self._flagged: dict[str, tuple[str, npt.NDArray[np.float32]]] = {}
        self._seen = 0
        self._dim: int | None = None

    def _usable(self, vec: object) -> npt.NDArray[np.float32] | None:
        # Tampered chunks may carry vectors of another size (or none): leave them off the map.
        try:
            arr = np.asarray(vec, dtype=np.float32).reshape(-1)
        except (TypeError, ValueError):
            return None
        if arr.size == 0 or not np.all(np.isfinite(arr)):
            return None
        if self._dim is None:
            self._dim = int(arr.size)
        return arr if arr.size == self._dim else None

    def offer(self, chunk_id: str, vec: object) -> None:
        """A clean chunk: kept with probability ``size / seen``."""
        arr = self._usable(vec)
        if arr is None:
            return
        self._seen += 1
        if len(self._clean) < self.size:
            self._clean.append((chunk_id, arr))
        else:
            j = int(self._rng.integers(0, self._seen))
            if j < self.size:
                self._clean[j] = (chunk_id, arr)

    def flag(self, chunk_id: str, vec: object, kind: str) -> None:
        """A flagged chunk (``"finding"`` or ``"integrity"``): always kept (up to a hard cap)."""
        arr = self._usable(vec)
        if arr is None:
            return
        prev = self._flagged.get(chunk_id)
        if prev is not None and prev[0] == "integrity":
            return  # integrity is the stronger mark
        if len(self._flagged) < MAX_FLAGGED or prev is not None:
            self._flagged[chunk_id] = (kind, arr)

    def project(self) -> EmbeddingMap | None:
        """PCA (numpy SVD) of everything kept; ``None`` with fewer than two points."""
        flagged_ids = set(self._flagged)
        clean = [(cid, v) for cid, v in self._clean if cid not in flagged_ids]
        ids = [cid for cid, _ in clean] + list(self._flagged)
        kinds = ["clean"] * len(clean) + [k for k, _ in self._flagged.values()]
        vecs = [v for _, v in clean] + [v for _, v in self._flagged.values()]
        if len(vecs) < 2:
            return None
        x = np.stack(vecs).astype(np.float64)
        x -= x.mean(axis=0)
        _, s, vt = np.linalg.svd(x, full_matrices=False)
        comps = vt[:2] if vt.shape[0] >= 2 else np.vstack([vt, np.zeros_like(vt)])
        xy = x @ comps.T
        var = s**2
        total = float(var.sum()) or 1.0
        explained = (float(var[0] / total), float(var[1] / total) if len(var) > 1 else 0.0)
        points = tuple(MapPoint(float(xy[i, 0]), float(xy[i, 1]), ids[i], kinds[i]) for i in range(len(ids)))
        return EmbeddingMap(points=points, sampled=len(clean), total=self._seen, explained=explained)
