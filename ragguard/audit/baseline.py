"""The audit baseline: a versioned JSON snapshot of findings, for new / resolved / unchanged.

Format ``ragguard-audit-baseline/1``::

    {
      "format": "ragguard-audit-baseline/1",
      "created_at": "2025-01-01T02:00:00+00:00",
      "collection": "ragguard",
      "policy_version": "1",
      "detectors": [{"name": "instructions", "class": "ragguard.detectors...", "params": {...}}],
      "shard": null,
      "entries": [{"chunk_id": ..., "text_sha256": ..., "detector": ..., "code": ...,
                   "score": 0.7, "source": ..., "explanation": ...}]
    }

Entries are keyed by chunk id + text digest + detector + rule code (all stable
ids), so an edited chunk or a renamed rule shows up as new. The file holds no
key material and no text beyond the detectors' explanations.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragguard._io import atomic_write_text
from ragguard.audit.results import AuditFinding, DetectorInfo, FindingStatus
from ragguard.detectors.base import Detector, public_params
from ragguard.errors import InputError

FORMAT = "ragguard-audit-baseline/1"

Key = tuple[str, str, str, str]


def detector_info(det: Detector) -> DetectorInfo:
    """Name, class and constructor parameters of a detector.

    Parameters are the instance's plain scalar attributes; fitted state
    (``attr_``) and private attributes are left out, so refitting does not look
    like a configuration change.
    """
    cls = type(det)
    return DetectorInfo(det.name, f"{cls.__module__}.{cls.__qualname__}", public_params(det)[0])


@dataclass(frozen=True)
class BaselineEntry:
    """One finding as recorded in the baseline."""

    chunk_id: str
    text_sha256: str
    detector: str
    code: str
    score: float
    source: str = ""
    explanation: str = ""

    @property
    def key(self) -> Key:
        """Chunk id, text digest, detector, code."""
        return (self.chunk_id, self.text_sha256, self.detector, self.code)


@dataclass(frozen=True)
class Baseline:
    """A loaded (or freshly built) baseline."""

    entries: tuple[BaselineEntry, ...] = ()
    detectors: tuple[DetectorInfo, ...] = ()
    policy_version: str = ""
    collection: str = ""
    created_at: str = ""
    shard: tuple[int, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (entries sorted, so successive baselines diff cleanly)."""
        entries = sorted(self.entries, key=lambda e: e.key)
        return {
            "format": FORMAT,
            "created_at": self.created_at,
            "collection": self.collection,
            "policy_version": self.policy_version,
            "detectors": [d.to_dict() for d in self.detectors],
            "shard": list(self.shard) if self.shard is not None else None,
            "entries": [
                {
                    "chunk_id": e.chunk_id,
                    "text_sha256": e.text_sha256,
                    "detector": e.detector,
                    "code": e.code,
                    "score": round(e.score, 4),
                    "source": e.source,
                    "explanation": e.explanation,
                }
                for e in entries
            ],
        }


def load_baseline(path: Path) -> Baseline | None:
    """Read a baseline file; ``None`` when it does not exist yet (a first run).

    Raises:
        InputError: If the file is not a ``ragguard-audit-baseline/1`` document.
    """
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read baseline {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"baseline {path} is not UTF-8 (invalid byte at offset {exc.start})") from None
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise InputError(f"baseline {path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise InputError(f"baseline {path} has format {found!r}; expected {FORMAT!r}")
    try:
        entries = tuple(
            BaselineEntry(
                chunk_id=str(e["chunk_id"]),
                text_sha256=str(e["text_sha256"]),
                detector=str(e["detector"]),
                code=str(e["code"]),
                score=float(e.get("score", 0.0)),
                source=str(e.get("source", "")),
                explanation=str(e.get("explanation", "")),
            )
            for e in doc.get("entries", [])
        )
        detectors = tuple(
            DetectorInfo(str(d["name"]), str(d.get("class", "")), tuple(sorted(dict(d.get("params", {})).items())))
            for d in doc.get("detectors", [])
        )
        shard = doc.get("shard")
        return Baseline(
            entries=entries,
            detectors=detectors,
            policy_version=str(doc.get("policy_version", "")),
            collection=str(doc.get("collection", "")),
            created_at=str(doc.get("created_at", "")),
            shard=(int(shard[0]), int(shard[1])) if shard else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"baseline {path} has a malformed entry: {exc!r}") from None


def write_baseline(path: Path, baseline: Baseline) -> None:
    """Write atomically: a temporary file in the same folder, fsynced, then renamed.

    A crash mid-write leaves the old baseline intact, never a truncated one.
    """
    atomic_write_text(path, json.dumps(baseline.to_dict(), indent=1, ensure_ascii=False) + "\n")


def entries_from(findings: Iterable[AuditFinding]) -> tuple[BaselineEntry, ...]:
    """Baseline entries for today's findings (resolved ones are not carried forward)."""
    return tuple(
        BaselineEntry(f.chunk_id, f.text_sha256, f.detector, f.code, f.score, f.source, f.explanation)
        for f in findings
        if f.status is not FindingStatus.RESOLVED
    )


def classify(
    current: Sequence[AuditFinding],
    baseline: Baseline | None,
    in_scope: Callable[[str], bool] | None = None,
) -> list[AuditFinding]:
    """Give each current finding its status and add the resolved baseline entries.

    Args:
        current: Today's findings (status ``NEW`` or ``RELEASED`` as produced by the scan).
        baseline: The previous baseline, or ``None`` (every finding is new).
        in_scope: Whether this run could have seen a chunk id (its shard);
            ``None`` means every baseline entry is in scope.
    """
    if baseline is None:
        return list(current)
    known = {e.key for e in baseline.entries}
    out = []
    for f in current:
        if f.status is FindingStatus.NEW and f.key in known:
            f = _with_status(f, FindingStatus.UNCHANGED)
        out.append(f)
    seen = {f.key for f in current}
    for e in baseline.entries:
        if e.key in seen or (in_scope is not None and not in_scope(e.chunk_id)):
            continue
        out.append(
            AuditFinding(
                chunk_id=e.chunk_id,
                text_sha256=e.text_sha256,
                source=e.source,
                detector=e.detector,
                code=e.code,
                score=e.score,
                explanation=e.explanation,
                status=FindingStatus.RESOLVED,
            )
        )
    return out


def compatibility_notes(
    baseline: Baseline | None, detectors: Sequence[DetectorInfo], policy_version: str, path: Path
) -> list[str]:
    """Why a comparison with this baseline may show findings as new that are not new to anyone."""
    if baseline is None:
        return [f"baseline {path} does not exist yet: every finding is new"]
    notes = []
    before = {d.name: d for d in baseline.detectors}
    now = {d.name: d for d in detectors}
    added = sorted(set(now) - set(before))
    removed = sorted(set(before) - set(now))
    changed = sorted(n for n in set(now) & set(before) if now[n].params != before[n].params)
    if added:
        notes.append(f"detectors added since the baseline: {', '.join(added)} (their findings are all new)")
    if removed:
        notes.append(f"detectors removed since the baseline: {', '.join(removed)} (their findings show as resolved)")
    if changed:
        notes.append(f"detector parameters changed since the baseline: {', '.join(changed)}")
    if baseline.policy_version and baseline.policy_version != policy_version:
        notes.append(f"policy version changed: {baseline.policy_version} -> {policy_version}")
    return notes


def _with_status(f: AuditFinding, status: FindingStatus) -> AuditFinding:
    return dataclasses.replace(f, status=status)
