"""One exception tree. Tampering and misconfiguration never share a type.

Detection outcomes are data (:class:`ragguard.types.Finding`), never exceptions;
these are for operations that cannot go on.
"""

from __future__ import annotations


class RagguardError(Exception):
    """Base of every error ragguard raises on purpose."""


class ConfigurationError(RagguardError):
    """The guard is set up wrongly: missing or malformed key, bad settings, unknown detector."""


class SigningKeyError(ConfigurationError):
    """A signing key is missing, malformed or unusable (never carries key material)."""


class InputError(RagguardError):
    """Input records or files cannot be read: missing file, not UTF-8, empty text, bad JSONL."""


class StoreError(RagguardError):
    """The vector store cannot be opened or reached, or does not exist."""


class NotFoundError(RagguardError):
    """A chunk or record the caller named does not exist."""


class IntegrityError(RagguardError):
    """Something that must verify does not: tampering or a supply-chain mismatch."""


class ModelIntegrityError(IntegrityError):
    """The embedding model's weights do not match the pinned digest."""


class SealError(IntegrityError):
    """A seal is missing, malformed, or does not verify."""
