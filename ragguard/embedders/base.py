"""The embedder extension point."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors.

    ``model_id`` and ``weights_digest`` are recorded in every chunk's provenance;
    reading ``weights_digest`` may load (and verify) the model.
    """

    model_id: str

    @property
    def weights_digest(self) -> str:
        """SHA-256 of the weights that produce the vectors."""
        ...

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """``(len(texts), dim)`` float32 array with unit-norm rows."""
        ...


#: Below this cosine between a stored vector and a fresh encoding of the same text, the
#: vector does not belong to the text (re-encoding differs only in float noise).
SAME_VECTOR_COSINE = 0.999


def same_vector(stored: npt.ArrayLike, fresh: npt.ArrayLike) -> bool:
    """Whether ``stored`` is the vector the model gives the text again (``fresh``), up to float noise."""
    a = np.asarray(stored, dtype=np.float64).reshape(-1)
    b = np.asarray(fresh, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        return False
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return denom > 0 and float(a @ b) / denom >= SAME_VECTOR_COSINE
