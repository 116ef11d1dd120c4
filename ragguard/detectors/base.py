"""The detector extension point: one small protocol and the batch it reads.

The pipeline embeds a batch once; every detector reads the same
:class:`ScreeningBatch`. Detection outcomes are data (:class:`Finding`), never
exceptions.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from ragguard.detectors.memo import shared_text_work
from ragguard.errors import ConfigurationError
from ragguard.types import Chunk, Finding, TrustTier

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ragguard.stores.base import StoreView


@dataclass(frozen=True)
class ScreeningBatch:
    """Everything detectors may read about a batch of chunks.

    Attributes:
        chunks: The chunks, in order.
        embeddings: ``(len(chunks), dim)`` float32 array, L2-normalised rows.
        trust: The trust tier of each chunk's source.
        store: Read-only view of what is already stored (served and quarantined),
            for detectors that compare against the existing knowledge base;
            ``None`` when screening without a store.
        embedder: Id of the model that produced ``embeddings`` (learned
            detectors check they were trained for it).
    """

    chunks: Sequence[Chunk]
    embeddings: npt.NDArray[np.float32]
    trust: Sequence[TrustTier]
    store: StoreView | None = None
    embedder: str = ""

    @property
    def texts(self) -> list[str]:
        """The chunk texts, in order."""
        return [c.text for c in self.chunks]


Scalar = str | int | float | bool | None


def public_params(det: object) -> tuple[tuple[tuple[str, Scalar], ...], bool]:
    """A detector's configuration: its public plain scalar attributes, sorted by name.

    Fitted state (``attr_``), private attributes and ``name`` are left out, so
    refitting does not look like a configuration change.

    Returns:
        ``(params, complete)``; ``complete`` is False when some public attribute
        is not a plain scalar (a list of rules, a model), whose meaning cannot be
        told from here.
    """
    params: list[tuple[str, Scalar]] = []
    complete = True
    for key, value in sorted(vars(det).items()):
        if key.startswith("_") or key.endswith("_") or key == "name":
            continue
        if isinstance(value, Path):
            value = str(value)
        if value is None or isinstance(value, (str, int, float, bool)):
            params.append((key, value))
        else:
            complete = False
    return tuple(params), complete


@runtime_checkable
class Detector(Protocol):
    """Screens a batch of chunks. ``name`` is stable: it is part of the audit baseline."""

    name: str

    def detect(self, batch: ScreeningBatch) -> list[list[Finding]]:
        """Return one list of findings per chunk (empty when nothing is suspicious)."""
        ...


def detect_batch(detector: Detector, batch: ScreeningBatch) -> list[list[Finding]]:
    """``detector.detect(batch)``, refused unless it gives exactly one list per chunk.

    A short answer would leave chunks unjudged, and so allowed: screening fails closed instead.

    Raises:
        ConfigurationError: Naming the detector and the counts.
    """
    found = detector.detect(batch)
    if len(found) != len(batch.chunks):
        raise ConfigurationError(
            f"detector {getattr(detector, 'name', type(detector).__name__)!r} returned {len(found)} lists of "
            f"findings for {len(batch.chunks)} chunks; Detector.detect must return one list per chunk"
        )
    return found


class TextDetector(abc.ABC):
    """Base for detectors that read each chunk's text alone.

    Subclasses implement :meth:`detect_text`; scoring must be pure.
    """

    name: str = "text"
    #: True when every finding is local to its span, so the detector means the
    #: same thing on any window of a text. Detectors that judge a text as a whole
    #: ("opens with a query", token statistics) leave it False: on a window cut
    #: at an arbitrary point they would judge the cut (see
    #: :mod:`ragguard.detectors.seams`).
    span_local: ClassVar[bool] = False

    def detect(self, batch: ScreeningBatch) -> list[list[Finding]]:
        """Apply :meth:`detect_text` to every chunk of the batch."""
        return [self.detect_text(c.text) for c in batch.chunks]

    def fingerprint(self) -> str | None:
        """Everything :meth:`detect_text`'s answers depend on beyond the text, or None if unknown.

        The audit believes a seal's record that this detector found nothing in a
        text only while the fingerprint is the same as when it was sealed (see
        :mod:`ragguard.detectors.fingerprint`). A built-in detector returns its
        class and parameters (the screen id adds its code's digest). A detector
        defined elsewhere returns None, so the audit always scans its texts
        again, unless it overrides this to name all it depends on: its name,
        its code's version, its word lists, its model's digest.
        """
        cls = type(self)
        params, complete = public_params(self)
        if not complete or not cls.__module__.startswith("ragguard.detectors."):
            return None
        return repr((f"{cls.__module__}.{cls.__qualname__}", self.name, params))

    @abc.abstractmethod
    def detect_text(self, text: str) -> list[Finding]:
        """Findings for one text."""


def split_detectors(detectors: Sequence[Detector]) -> tuple[list[TextDetector], list[Detector]]:
    """``(text detectors, the rest)``, each in the given order.

    Text detectors need neither vectors nor the store, so callers may run them
    elsewhere (a thread during encoding, worker processes during an audit).
    """
    text = [d for d in detectors if isinstance(d, TextDetector)]
    rest = [d for d in detectors if not isinstance(d, TextDetector)]
    return text, rest


def detect_texts(detectors: Sequence[TextDetector], texts: Sequence[str]) -> list[list[list[Finding]]]:
    """Per detector, per text, the findings of :meth:`TextDetector.detect_text`.

    Runs every detector on one text before the next, so the normalisation and
    decoding they share is done once per text (see :mod:`ragguard.detectors.memo`).
    """
    out: list[list[list[Finding]]] = [[] for _ in detectors]
    with shared_text_work() as memo:
        for text in texts:
            memo.clear()
            for found, d in zip(out, detectors, strict=True):
                found.append(d.detect_text(text))
    return out
