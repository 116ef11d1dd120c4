"""The audit gate: a scheduled re-audit of the whole store, adopting unguarded collections, re-sealing.

:func:`run_audit` (what :meth:`ragguard.Guard.audit` calls) streams the served
and quarantine collections a page at a time, verifies every seal, re-scans
served chunks with today's detectors and policy, diffs against a baseline and,
when asked, moves offenders to quarantine without deleting anything.
"""

from ragguard.audit.adopt import AdoptReport, adopt_collection
from ragguard.audit.baseline import FORMAT as BASELINE_FORMAT
from ragguard.audit.baseline import Baseline, BaselineEntry, load_baseline, write_baseline
from ragguard.audit.report_html import render_html, write_html
from ragguard.audit.reseal import ResealReport, reseal_store
from ragguard.audit.results import (
    EXIT_CLEAN,
    EXIT_INTEGRITY,
    EXIT_NEW_FINDINGS,
    AuditCounts,
    AuditFinding,
    AuditReason,
    AuditReport,
    DetectorInfo,
    EmbeddingMap,
    FindingStatus,
    IntegrityFailure,
    MapPoint,
    MovedChunk,
)
from ragguard.audit.run import in_shard, run_audit
from ragguard.quarantine import AUDIT_REASON_KEY

__all__ = [
    "AUDIT_REASON_KEY",
    "BASELINE_FORMAT",
    "EXIT_CLEAN",
    "EXIT_INTEGRITY",
    "EXIT_NEW_FINDINGS",
    "AdoptReport",
    "AuditCounts",
    "AuditFinding",
    "AuditReason",
    "AuditReport",
    "Baseline",
    "BaselineEntry",
    "DetectorInfo",
    "EmbeddingMap",
    "FindingStatus",
    "IntegrityFailure",
    "MapPoint",
    "MovedChunk",
    "ResealReport",
    "adopt_collection",
    "in_shard",
    "load_baseline",
    "render_html",
    "reseal_store",
    "run_audit",
    "write_baseline",
    "write_html",
]
