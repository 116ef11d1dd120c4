"""Which trust tier a source gets, and what decided it (the CLI prints the reason)."""

from __future__ import annotations

import pytest

from ragguard import Settings
from ragguard.types import TrustTier

T, U, B = TrustTier.TRUSTED, TrustTier.UNTRUSTED, TrustTier.BLOCKED
RULE = "source rule 'https://docs.example/*'"


def _settings(rule_trust: TrustTier | None) -> Settings:
    rules = [] if rule_trust is None else [{"pattern": "https://docs.example/*", "trust": rule_trust.value}]
    return Settings(sources=rules, revoked_sources=["https://gone.example/*"], default_trust=U)


@pytest.mark.parametrize(
    ("rule_trust", "requested", "expected"),
    [
        (None, None, (U, "default")),
        (None, T, (T, "requested")),
        (T, None, (T, RULE)),
        (T, U, (U, "requested")),  # the request, not the rule, set a tier below the rule's
        (T, B, (B, "requested")),
        (U, T, (U, RULE)),  # the rule lowers the request
        (B, T, (B, RULE)),
    ],
)
def test_the_tier_and_what_decided_it(
    rule_trust: TrustTier | None, requested: TrustTier | None, expected: tuple[TrustTier, str]
) -> None:
    settings = _settings(rule_trust)
    assert settings.trust_decision("https://docs.example/a", requested) == expected
    assert settings.trust_for("https://docs.example/a", requested) is expected[0]


def test_a_revoked_source_is_blocked_whatever_was_asked() -> None:
    assert _settings(T).trust_decision("https://gone.example/x", T) == (B, "revoked source")
