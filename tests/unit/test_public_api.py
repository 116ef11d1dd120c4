"""The public API is pinned: adding is fine, removing or renaming breaks users."""

import ragguard

PINNED = {
    "Action", "Chunk", "ConfigurationError", "Drop", "DropReason", "Finding", "Guard", "Hit", "IngestReport",
    "InputError", "IntegrityError", "Keyring", "ModelIntegrityError", "NotFoundError", "Policy", "Provenance",
    "QuarantineEntry", "RagguardError", "RecordVerdict", "RetrievalFilter", "SealError", "SearchResult",
    "Settings", "SigningKeyError", "SourceRule", "Span", "StoredChunk", "StoreError", "Thresholds", "TrustTier",
    "Verdict", "__version__",
}  # fmt: skip


def test_all_is_pinned_and_importable() -> None:
    assert set(ragguard.__all__) >= PINNED
    for name in ragguard.__all__:
        assert hasattr(ragguard, name), name


def test_tampering_and_misconfiguration_never_share_a_type() -> None:
    assert not issubclass(ragguard.IntegrityError, ragguard.ConfigurationError)
    assert not issubclass(ragguard.ConfigurationError, ragguard.IntegrityError)
    assert issubclass(ragguard.SigningKeyError, ragguard.ConfigurationError)
