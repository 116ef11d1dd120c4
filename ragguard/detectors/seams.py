"""Chunk seams: text detectors run across the boundaries the chunker cut.

The chunker prefers paragraph breaks, so an instruction placed in its own
paragraph after a table ("...| 2013 | Stop The Bleeding |\\n\\nWhat are the
primary functions of the liver?") lands in a chunk of its own, where it reads
as an ordinary question: the context that makes it out of place is in the
previous chunk. Screening chunk by chunk would make the chunker a blind spot.

For a record cut into several chunks, every span-local text detector (one whose
findings mean the same on any window of a text; see
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


def chunk_offsets(text: str, chunks: Sequence[Chunk]) -> list[int] | None:
    """Where each chunk starts in ``text`` (chunks are in order), or None if one is not found.

    The splitter returns substrings of the record in order, possibly
    overlapping, so each is searched from just after the previous start.
    """
    out: list[int] = []
    pos = 0
    for c in chunks:
        at = text.find(c.text, pos)
        if at < 0:
            return None
        out.append(at)
        pos = at + 1
    return out


def seam_findings(
    detectors: Sequence[TextDetector],
    text: str,
    chunks: Sequence[Chunk],
    window: int = SEAM_WINDOW,
) -> dict[int, list[Finding]]:
    """Findings that only the text across a chunk boundary shows, per chunk position.

    Args:
        detectors: Text detectors; the span-local ones run on each seam window.
        text: The whole record text the chunks were cut from.
        chunks: The record's chunks, in order.
        window: Characters of the record read on each side of a boundary.

    Returns:
        ``{chunk position: findings}`` for chunks that gain a finding; a
        finding's span is in the chunk's own text.
    """
    detectors = [d for d in detectors if d.span_local]
    if len(chunks) < 2 or not detectors:
        return {}
    starts = chunk_offsets(text, chunks)
    if starts is None:
        return {}
    ends = [s + len(c.text) for s, c in zip(starts, chunks, strict=True)]
    out: dict[int, list[Finding]] = {}
    seen: dict[int, set[str]] = {}
    for b in range(1, len(chunks)):
        cut = min(starts[b], ends[b - 1])
        lo, hi = _snap(text, max(0, cut - window), max(starts[b], ends[b - 1]) + window, cut)
        piece = text[lo:hi]
        for det in detectors:
            for f in det.detect_text(piece):
                if f.span is None:
                    continue
                a, z = f.span.start + lo, f.span.end + lo
                for i in (b - 1, b):  # the screening step drops rules a chunk's own scan already found
                    if a < ends[i] and z > starts[i] and f.code not in seen.setdefault(i, set()):
                        seen[i].add(f.code)
                        span = Span(max(a, starts[i]) - starts[i], min(z, ends[i]) - starts[i])
                        why = f"{f.explanation} Read across the boundary with the neighbouring chunk."
                        out.setdefault(i, []).append(dataclasses.replace(f, span=span, explanation=why))
    return out


def _snap(text: str, lo: int, hi: int, cut: int) -> tuple[int, int]:
    """Move the window's ends inwards to line (else word) boundaries.

    Line-anchored rules (``^``) would otherwise read the window's first
    character as the start of a line, and a word cut in two as a word.
    """
    hi = min(len(text), hi)
    if lo > 0:
        nl = text.find("\n", lo, cut)
        if nl >= 0:
            lo = nl + 1
        else:
            sp = text.find(" ", lo, cut)
            lo = sp + 1 if sp >= 0 else lo
    if hi < len(text):
        nl = text.rfind("\n", cut, hi)
        if nl >= 0:
            hi = nl
        else:
            sp = text.rfind(" ", cut, hi)
            hi = sp if sp >= 0 else hi
    return lo, hi
