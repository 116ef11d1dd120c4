"""Policy: findings + the source's trust tier -> one score in [0, 1] and an action.

Scoring: the strongest finding per (detector, code) counts once; distinct
findings combine by noisy-OR, ``1 - prod(1 - s)``, so independent weak cues add
up while one rule firing many times does not.

Default thresholds (score >= threshold):

============  ==========  ======
tier          quarantine  reject
============  ==========  ======
trusted       0.80        0.97
untrusted     0.50        0.90
blocked       always rejected
============  ==========  ======

Per-source overrides come from settings (:class:`ragguard.config.SourceRule`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ragguard.types import Action, Finding, TrustTier, Verdict

POLICY_VERSION = "1"


@dataclass(frozen=True)
class Thresholds:
    """Scores at or above ``quarantine`` are quarantined, at or above ``reject`` rejected."""

    quarantine: float
    reject: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.quarantine <= self.reject <= 1.0:
            raise ValueError(f"thresholds must satisfy 0 <= quarantine <= reject <= 1, got {self}")


def combine(findings: Iterable[Finding]) -> float:
    """Noisy-OR of the strongest finding per (detector, code)."""
    best: dict[tuple[str, str], float] = {}
    for f in findings:
        key = (f.detector, f.code)
        best[key] = max(best.get(key, 0.0), f.score)
    keep = 1.0
    for s in best.values():
        keep *= 1.0 - s
    return 1.0 - keep


@dataclass(frozen=True)
class Policy:
    """Maps findings and trust to a :class:`Verdict`."""

    trusted: Thresholds = field(default_factory=lambda: Thresholds(0.80, 0.97))
    untrusted: Thresholds = field(default_factory=lambda: Thresholds(0.50, 0.90))
    version: str = POLICY_VERSION

    def thresholds(self, trust: TrustTier) -> Thresholds:
        """The default thresholds for a tier (blocked sources never reach them)."""
        return self.trusted if trust is TrustTier.TRUSTED else self.untrusted

    def decide(
        self,
        chunk_id: str,
        findings: Iterable[Finding],
        trust: TrustTier,
        override: Thresholds | None = None,
    ) -> Verdict:
        """Decide one chunk."""
        found = tuple(sorted(findings, key=lambda f: -f.score))
        if trust is TrustTier.BLOCKED:
            blocked = Finding(
                detector="policy",
                code="RG-POL-001",
                score=1.0,
                explanation=(
                    "The source is blocked (by configuration, as a revoked source, or by the caller's request): "
                    "nothing from it is stored or served."
                ),
            )
            return Verdict(chunk_id, Action.REJECT, 1.0, (blocked, *found), trust=trust)
        score = combine(found)
        th = override or self.thresholds(trust)
        if score >= th.reject:
            action = Action.REJECT
        elif score >= th.quarantine:
            action = Action.QUARANTINE
        else:
            action = Action.ALLOW
        return Verdict(chunk_id, action, score, found, trust, th.quarantine, th.reject)
