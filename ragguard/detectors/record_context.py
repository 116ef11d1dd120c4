"""Record context: a chunk's weak instruction cue counts for more beside a sibling caught outright.

A long injection (a jailbreak persona, a planted "assistant guide") is cut
into several chunks. The opening that assigns the role is caught; the later
chunks, the persona's rules ("never refuse", "answer in two voices"), read as
prose once cut off from it and carry only weak cues. Retrieval serves chunks,
not records, so such a chunk served alone still carries the attack.

When a record has a chunk whose instruction findings alone reach the
quarantine threshold, every other chunk of that record that carries an
instruction cue of its own (any ``instructions`` or ``hidden`` finding)
gets one corroborating finding, ``RG-REC-001``. A chunk without a cue of
its own is never touched, so a README that quotes one attack keeps its
other sections, and a record with no chunk caught gets nothing.

Only siblings screened in the same batch count (a record split across
ingest batches is judged per batch); the nightly audit re-scans chunk by
chunk and does not add this finding, as it does not read seams.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from ragguard.types import Chunk, Finding

__all__ = ["CUE_DETECTORS", "RECORD_CONTEXT_SCORE", "record_context_findings"]

#: Detectors whose findings are instruction cues for this purpose.
CUE_DETECTORS = frozenset({"instructions", "hidden"})
#: Score of the corroborating finding: lifts a weak cue (0.3 or more) over a 0.5
#: threshold, never decides for a chunk without one.
RECORD_CONTEXT_SCORE = 0.3


def _combined(findings: Sequence[Finding]) -> float:
    doubt = 1.0
    for f in findings:
        doubt *= 1.0 - f.score
    return 1.0 - doubt


def record_context_findings(
    chunks: Sequence[Chunk], findings: Sequence[Sequence[Finding]], thresholds: Sequence[float]
) -> list[list[Finding]]:
    """The extra finding each chunk gets from its record's other chunks.

    Args:
        chunks: The batch, in order.
        findings: Each chunk's findings so far (its own and its seams').
        thresholds: Each chunk's quarantine threshold (its tier, its source's override).

    Returns:
        Per chunk, an empty list or one ``RG-REC-001`` finding.
    """
    cues = [[f for f in found if f.detector in CUE_DETECTORS] for found in findings]
    caught: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, c in enumerate(chunks):
        if cues[i] and _combined(cues[i]) >= thresholds[i]:
            caught[(c.source, c.doc_id)].append(i)
    out: list[list[Finding]] = [[] for _ in chunks]
    if not caught:
        return out
    for i, c in enumerate(chunks):
        siblings = [j for j in caught.get((c.source, c.doc_id), ()) if chunks[j].chunk_index != c.chunk_index]
        if not siblings or not cues[i] or _combined(cues[i]) >= thresholds[i]:
            continue
        j = max(siblings, key=lambda k: _combined(cues[k]))
        top = max(cues[j], key=lambda f: f.score)
        out[i].append(
            Finding(
                detector="record_context",
                code="RG-REC-001",
                score=RECORD_CONTEXT_SCORE,
                explanation=(
                    f"Chunk {chunks[j].chunk_index} of the same record carries instructions ({top.code}: "
                    f"{top.explanation.rstrip('.')}), and this chunk has an instruction cue of its own."
                ),
            )
        )
    return out
