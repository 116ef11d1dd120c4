"""Chunk seams: text detectors run across the boundaries the chunker cut.

The chunker prefers paragraph breaks, so an instruction placed in its own
paragraph after a table ("...| 2013 | Stop The Bleeding |\\n\\nWhat are the
primary functions of the liver?") lands in a chunk of its own, where it reads
as an ordinary question: the context that makes it out of place is in the
previous chunk. Screening chunk by chunk would make the chunker a blind spot.

For a record cut into several chunks, every span-local text detector (one whose
findings mean the same on any window of a text, such as ``instructions`` and
``hidden``; not ``obfuscation``, which counts hidings over the whole text; see
:attr:`~ragguard.detectors.base.TextDetector.span_local`) also reads a window
around each boundary (``window`` characters of the record on either side). A
finding in that window is attributed to the chunks its span overlaps, with its
span moved into the chunk's own coordinates, unless the chunk already has that
rule from its own scan. The work is bounded: one window per boundary.

Chunk ids are content addressed, so two records of one source that share a
chunk share its verdict: the chunk carries the findings of its worst context.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ragguard.detectors.base import TextDetector
from ragguard.types import Chunk, Finding, Span

__all__ = ["SEAM_WINDOW", "chunk_offsets", "seam_findings"]

#: Characters of the record read on each side of a chunk boundary.
SEAM_WINDOW = 400


def chunk_offsets(text: str, chunks: Sequence[Chunk], overlap: int) -> list[int] | None:
    """Where each chunk starts in ``text`` (chunks are in order), or None if one is not found.

    The splitter returns substrings of the record in order, each overlapping the
    previous one by at most ``overlap`` characters, so each is searched from
    there (as LangChain's ``add_start_index`` does): a short chunk whose text
    also occurs inside the previous one is not placed there.
    """
    out: list[int] = []
    pos = 0
    for c in chunks:
        at = text.find(c.text, pos)
        if at < 0:
            return None
        out.append(at)
        pos = max(at + 1, at + len(c.text) - overlap)
    return out


def seam_findings(
    detectors: Sequence[TextDetector],
    text: str,
    chunks: Sequence[Chunk],
    overlap: int,
    window: int = SEAM_WINDOW,
) -> dict[int, list[Finding]]:
    """Findings that only the text across a chunk boundary shows, per chunk position.

    Args:
        detectors: Text detectors; the span-local ones run on each seam window.
        text: The whole record text the chunks were cut from.
        chunks: The record's chunks, in order.
        overlap: The most characters two consecutive chunks share.
        window: Characters of the record read on each side of a boundary.

    Returns:
        ``{chunk position: findings}`` for chunks that gain a finding; a
        finding's span is in the chunk's own text.
    """
    detectors = [d for d in detectors if d.span_local]
    if len(chunks) < 2 or not detectors:
        return {}
    starts = chunk_offsets(text, chunks, overlap)
    if starts is None:
        return {}
    ends = [s + len(c.text) for s, c in zip(starts, chunks, strict=True)]
    best: dict[tuple[int, str], Finding] = {}
    for b in range(1, len(chunks)):
        cut = min(starts[b], ends[b - 1])
        lo, hi = _snap(text, max(0, cut - window), max(starts[b], ends[b - 1]) + window, window)
        piece = text[lo:hi]
        for det in detectors:
            for f in det.detect_text(piece):
                if f.span is None:
                    continue
                a, z = f.span.start + lo, f.span.end + lo
                for i in (b - 1, b):  # the screening step drops rules a chunk's own scan already found
                    prev = best.get((i, f.code))
                    if a < ends[i] and z > starts[i] and (prev is None or f.score > prev.score):
                        span = Span(max(a, starts[i]) - starts[i], min(z, ends[i]) - starts[i])
                        why = f"{f.explanation} Read across the boundary with the neighbouring chunk."
                        best[(i, f.code)] = dataclasses.replace(f, span=span, explanation=why)
    out: dict[int, list[Finding]] = {}
    for (i, _), f in sorted(best.items()):
        out.setdefault(i, []).append(f)
    return out


def _snap(text: str, lo: int, hi: int, limit: int) -> tuple[int, int]:
    """Widen the window to whole lines (else whole words), by at most ``limit`` characters a side.

    Line-anchored rules (``^``) would otherwise read the window's first
    character as the start of a line, and a word cut in two as a word; widening
    rather than shrinking keeps a long table row that ends right at the cut.
    """
    hi = min(len(text), hi)
    if lo > 0 and text[lo - 1] != "\n":
        nl = text.rfind("\n", max(0, lo - limit), lo)
        if nl >= 0:
            lo = nl + 1
        else:
            sp = text.rfind(" ", max(0, lo - limit), lo)
            lo = sp + 1 if sp >= 0 else lo
    if hi < len(text) and text[hi] != "\n":
        nl = text.find("\n", hi, hi + limit)
        if nl >= 0:
            hi = nl
        else:
            sp = text.find(" ", hi, hi + limit)
            hi = sp if sp >= 0 else hi
    return lo, hi
