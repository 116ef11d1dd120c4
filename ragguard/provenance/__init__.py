"""Provenance: canonical bytes, digests, sealing (HMAC-SHA256, Ed25519), keyring."""

from ragguard.provenance.canonical import (
    canonical_bytes,
    chunk_id,
    embedding_digest,
    metadata_digest,
    normalise_text,
    text_digest,
)
from ragguard.provenance.keyring import Keyring
from ragguard.provenance.seal import seal, verify
from ragguard.provenance.signers import Ed25519Signer, HmacSigner, Signer

__all__ = [
    "Ed25519Signer",
    "HmacSigner",
    "Keyring",
    "Signer",
    "canonical_bytes",
    "chunk_id",
    "embedding_digest",
    "metadata_digest",
    "normalise_text",
    "seal",
    "text_digest",
    "verify",
]
