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
