"""Screening a batch: embed once, run every detector on the same vectors, decide.

Kept apart from :mod:`ragguard.guard` (which owns the store, the keys and the
public API) so the pipeline's one hot loop reads on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ragguard.detectors.base import Detector, ScreeningBatch, detect_batch, detect_texts, split_detectors
from ragguard.detectors.seams import seam_findings
from ragguard.types import Chunk, Finding, RecordVerdict, TrustTier, Verdict

if TYPE_CHECKING:
    from ragguard.guard import Guard
    from ragguard.stores.base import StoreView

__all__ = ["SeamContext", "decide_all", "detect_all", "record_verdict", "screen"]


class SeamContext:
    """Findings that only the text across a record's chunk boundaries shows, by chunk id.

    Computed record by record as screening reaches them (see :meth:`upto`), so
    the work is spread over the batches, and progress reports cover it, instead
    of running for every record before the first batch.

    Args:
        detectors: The guard's detectors (the span-local text detectors read seams).
        split: ``(record text, its chunks in order)`` per record.
        overlap: The most characters two consecutive chunks share.
        positions: Where each chunk id is screened (its index in the screening
            order); ``None`` screens everything at once.
    """

    def __init__(
        self,
        detectors: Sequence[Detector],
        split: Sequence[tuple[str, Sequence[Chunk]]],
        overlap: int,
        positions: Mapping[str, int] | None = None,
    ) -> None:
        self._detectors = split_detectors(detectors)[0]
        self._split = split
        self._overlap = overlap
        self._positions = positions
        self._pending: list[tuple[int, int]] | None = None
        self.findings: dict[str, list[Finding]] = {}

    def upto(self, end: int) -> Mapping[str, Sequence[Finding]]:
        """Seam findings for every chunk screened at a position below ``end``.

        A record's seams are read once the first of its chunks comes up, which
        covers a chunk shared with a record screened earlier.
        """
        if self._pending is None:
            where = self._positions
            self._pending = sorted(
                ((min(where[c.id] for c in chunks) if where is not None else 0), i)
                for i, (_, chunks) in enumerate(self._split)
                if len(chunks) > 1
            )
            self._pending.reverse()  # earliest last: popped first
        while self._pending and self._pending[-1][0] < end:
            _, i = self._pending.pop()
            text, chunks = self._split[i]
            for pos, found in seam_findings(self._detectors, text, chunks, self._overlap).items():
                self.findings.setdefault(chunks[pos].id, []).extend(found)
        return self.findings


def screen(
    guard: Guard,
    chunks: Sequence[Chunk],
    trust: Sequence[TrustTier],
    view: StoreView | None,
    background: ThreadPoolExecutor | None = None,
    context: Mapping[str, Sequence[Finding]] | None = None,
) -> tuple[npt.NDArray[np.float32], list[Verdict]]:
    """Embed ``chunks`` once, run the guard's detectors on the same vectors, decide each chunk.

    Args:
        guard: Supplies the embedder, detectors, policy and settings.
        chunks: The batch.
        trust: Each chunk's trust tier.
        view: What is already stored, for detectors that compare against it.
        background: A thread to run the text detectors in (they need no
            vectors) while the embedder encodes, so their cost hides behind
            the model's; ``None`` runs everything in order.
        context: Findings by chunk id that only the text around the chunk shows
            (see :mod:`ragguard.detectors.seams`); a rule the chunk's own scan
            already found is not added twice.

    Returns:
        ``(vectors, verdicts)``, both in the order of ``chunks``.
    """
    texts = [c.text for c in chunks]
    # Text detectors run together, one text at a time, so they share its decoding.
    text_detectors = split_detectors(guard.detectors)[0]
    pending = (
        background.submit(detect_texts, text_detectors, texts) if background is not None and text_detectors else None
    )
    vectors = guard.embedder.embed(texts)
    batch = ScreeningBatch(chunks=chunks, embeddings=vectors, trust=trust, store=view, embedder=guard.embedder.model_id)
    text_results = pending.result() if pending is not None else None
    per_chunk = detect_all(guard, batch, text_results)
    if context:
        for c, found in zip(chunks, per_chunk, strict=True):
            have = {f.code for f in found}
            # A chunk shared by several records has one context list per record: strongest first, once per rule.
            for f in sorted(context.get(c.id, ()), key=lambda f: -f.score):
                if f.code not in have:
                    have.add(f.code)
                    found.append(f)
    return vectors, decide_all(guard, chunks, trust, per_chunk)


def detect_all(
    guard: Guard, batch: ScreeningBatch, text_results: Sequence[Sequence[Sequence[Finding]]] | None = None
) -> list[list[Finding]]:
    """Every detector's findings per chunk of ``batch``, in the guard's detector order.

    Args:
        guard: Supplies the detectors.
        batch: Chunks with their vectors already computed.
        text_results: What :func:`~ragguard.detectors.base.detect_texts` returned
            for the guard's text detectors on these chunks, when it ran elsewhere;
            computed here when None.
    """
    text_detectors = split_detectors(guard.detectors)[0]
    if text_results is None:
        text_results = detect_texts(text_detectors, [c.text for c in batch.chunks])
    from_text = dict(zip(map(id, text_detectors), text_results, strict=True))
    per_chunk: list[list[Finding]] = [[] for _ in batch.chunks]
    for det in guard.detectors:  # in the guard's order, whichever thread ran them
        results = from_text.get(id(det))
        for i, found in enumerate(results if results is not None else detect_batch(det, batch)):
            per_chunk[i].extend(found)
    return per_chunk


def decide_all(
    guard: Guard, chunks: Sequence[Chunk], trust: Sequence[TrustTier], per_chunk: Sequence[Sequence[Finding]]
) -> list[Verdict]:
    """The policy's verdict per chunk, with each source's threshold overrides."""
    verdicts = []
    for c, t, found in zip(chunks, trust, per_chunk, strict=True):
        override = guard.settings.thresholds_for(c.source, guard.policy.thresholds(t))
        verdicts.append(guard.policy.decide(c.id, found, t, override))
    return verdicts


def record_verdict(record_id: str, chunk_verdicts: list[Verdict]) -> RecordVerdict:
    """A record's verdict: its worst chunk's action and score, every distinct finding once."""
    worst = max(chunk_verdicts, key=lambda v: (v.action.severity, v.score))
    seen: set[tuple[str, str, int | None, int | None]] = set()
    findings: list[Finding] = []
    for v in chunk_verdicts:
        for f in v.findings:
            key = (f.detector, f.code, f.span.start if f.span else None, f.span.end if f.span else None)
            if key not in seen:
                seen.add(key)
                findings.append(f)
    findings.sort(key=lambda f: -f.score)
    return RecordVerdict(record_id, worst.action, worst.score, tuple(findings), tuple(chunk_verdicts))
