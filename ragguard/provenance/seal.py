"""Sealing: flatten a :class:`Provenance` into ``rg_`` metadata and sign it.

The signature covers the canonical bytes of every ``rg_`` field but the
signature itself, so changing any sealed field, the text, the vector, the
caller metadata, or moving a seal onto another chunk id breaks it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy.typing as npt

from ragguard.provenance.canonical import canonical_bytes, embedding_digest, metadata_digest, text_digest
from ragguard.provenance.keyring import Keyring
from ragguard.types import Action, DropReason, Finding, MetadataValue, Provenance, TrustTier

PREFIX = "rg_"
SIGNATURE_KEY = "rg_sig"
RECORD_VERSION = 1
VERSION_KEY = "rg_v"

# Provenance field -> metadata key. Stable: part of the store layout contract.
_FIELDS: dict[str, str] = {
    "chunk_id": "rg_id",
    "source": "rg_source",
    "doc_id": "rg_doc_id",
    "chunk_index": "rg_chunk_index",
    "text_sha256": "rg_text_sha256",
    "embedding_sha256": "rg_emb_sha256",
    "metadata_sha256": "rg_meta_sha256",
    "embedder": "rg_embedder",
    "embedder_digest": "rg_embedder_digest",
    "ingested_at": "rg_ingested_at",
    "trust": "rg_trust",
    "action": "rg_action",
    "score": "rg_score",
    "findings": "rg_findings",
    "policy_version": "rg_policy",
    "key_id": "rg_key_id",
    "algorithm": "rg_alg",
    "review": "rg_review",
}
#: Every key a version-1 record may hold: the fields, the version and the signature.
_RECORD_KEYS = frozenset([*_FIELDS.values(), VERSION_KEY, SIGNATURE_KEY])
_STR_FIELDS = tuple(name for name in _FIELDS if name not in ("chunk_index", "score"))
_TRUST = {t.value: t for t in TrustTier}
_ACTION = {a.value: a for a in Action}


def split_metadata(metadata: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split stored metadata into (``rg_`` provenance keys, caller keys)."""
    # Set algebra on the key view runs in C: this sits on the retrieval path,
    # once per candidate, and most chunks carry only the known rg_ keys.
    extra = metadata.keys() - _RECORD_KEYS
    if not extra:
        return dict(metadata), {}
    rg = {k: metadata[k] for k in metadata.keys() & _RECORD_KEYS}
    user: dict[str, Any] = {}
    for k in extra:
        (rg if k.startswith(PREFIX) else user)[k] = metadata[k]
    return rg, user


def to_metadata(prov: Provenance) -> dict[str, MetadataValue]:
    """Flatten provenance into scalar ``rg_`` metadata (unsigned)."""
    out: dict[str, MetadataValue] = {VERSION_KEY: RECORD_VERSION}
    for name, key in _FIELDS.items():
        value = getattr(prov, name)
        out[key] = value.value if isinstance(value, (Action, TrustTier)) else value
    return out


def from_metadata(metadata: Mapping[str, Any]) -> Provenance:
    """Parse ``rg_`` metadata back into a :class:`Provenance`.

    Raises:
        ValueError: If a field is missing or has the wrong type.
    """
    if metadata.get(VERSION_KEY) != RECORD_VERSION:
        raise ValueError(f"unsupported provenance record version {metadata.get(VERSION_KEY)!r}")
    try:
        values = {name: metadata[key] for name, key in _FIELDS.items()}
    except KeyError as exc:
        raise ValueError(f"missing provenance field {exc.args[0]}") from None
    for name in _STR_FIELDS:
        if not isinstance(values[name], str):
            raise ValueError(f"{_FIELDS[name]} is not a string")
    index, score = values["chunk_index"], values["score"]
    if isinstance(index, bool) or not isinstance(index, int):
        raise ValueError(f"{_FIELDS['chunk_index']} is not an integer")
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise ValueError(f"{_FIELDS['score']} is not a number")
    values["score"] = float(score)
    # Dict lookups, not Enum(value) calls: this runs for every retrieved chunk.
    trust, action = _TRUST.get(values["trust"]), _ACTION.get(values["action"])
    if trust is None:
        raise ValueError(f"{_FIELDS['trust']} is not a trust tier: {values['trust']!r}")
    if action is None:
        raise ValueError(f"{_FIELDS['action']} is not an action: {values['action']!r}")
    values["trust"], values["action"] = trust, action
    return Provenance(**values)


def encode_findings(findings: Sequence[Finding], limit: int = 16) -> str:
    """The sealed ``rg_findings`` form: compact JSON ``[[detector, code, score], ...]``, strongest first."""
    top = sorted(findings, key=lambda f: -f.score)[:limit]
    return json.dumps([[f.detector, f.code, round(f.score, 4)] for f in top], separators=(",", ":"))


def decode_findings(text: object) -> tuple[tuple[str, str, float], ...]:
    """Inverse of :func:`encode_findings`; ``()`` for anything unreadable (never raises)."""
    try:
        return tuple((str(d), str(c), float(s)) for d, c, s in json.loads(str(text)))
    except (ValueError, TypeError):
        return ()


def signed_bytes(metadata: Mapping[str, Any]) -> bytes:
    """The canonical bytes a seal signs: every ``rg_`` field except the signature."""
    if metadata.keys() <= _RECORD_KEYS:  # already split: a C-level copy, not a filter
        fields = dict(metadata)
        fields.pop(SIGNATURE_KEY, None)
    else:
        fields = {k: v for k, v in metadata.items() if k.startswith(PREFIX) and k != SIGNATURE_KEY}
    return canonical_bytes(fields)


def seal(prov: Provenance, keyring: Keyring) -> dict[str, MetadataValue]:
    """Sign ``prov`` with the keyring's active key; return the ``rg_`` metadata.

    ``prov.key_id`` and ``prov.algorithm`` are overwritten with the active key's,
    so the record always names the key that signed it.
    """
    signer = keyring.active()
    prov = dataclasses.replace(prov, key_id=signer.key_id, algorithm=signer.algorithm)
    meta = to_metadata(prov)
    meta[SIGNATURE_KEY] = signer.sign(signed_bytes(meta))
    return meta


def verify(
    chunk_id: str,
    text: str,
    embedding: npt.ArrayLike,
    metadata: Mapping[str, Any],
    keyring: Keyring,
) -> tuple[Provenance | None, DropReason | None]:
    """Check a stored chunk's seal against its id, text, vector and metadata.

    Never raises on bad data: every failure is a :class:`DropReason`.

    Returns:
        ``(provenance, None)`` when the seal verifies, else ``(provenance or None, reason)``.
    """
    rg, user = split_metadata(metadata or {})
    signature = rg.get(SIGNATURE_KEY)
    if not signature:
        return None, DropReason.UNSEALED
    try:
        prov = from_metadata(rg)
    except (ValueError, TypeError):
        return None, DropReason.MALFORMED_SEAL
    signer = keyring.get(prov.key_id)
    if signer is None:
        return prov, DropReason.UNKNOWN_KEY
    if keyring.is_revoked(prov.key_id):
        return prov, DropReason.REVOKED_KEY
    try:
        data = signed_bytes(rg)
    except (TypeError, ValueError):
        return prov, DropReason.MALFORMED_SEAL
    if signer.algorithm != prov.algorithm or not isinstance(signature, str) or not signer.verify(data, signature):
        return prov, DropReason.BAD_SIGNATURE
    if prov.chunk_id != chunk_id:
        return prov, DropReason.ID_MISMATCH
    if not isinstance(text, str) or text_digest(text) != prov.text_sha256:
        return prov, DropReason.TEXT_MISMATCH
    try:
        emb_ok = embedding is not None and embedding_digest(embedding) == prov.embedding_sha256
    except (TypeError, ValueError):
        emb_ok = False
    if not emb_ok:
        return prov, DropReason.EMBEDDING_MISMATCH
    try:
        meta_ok = metadata_digest(user) == prov.metadata_sha256
    except (TypeError, ValueError):
        meta_ok = False
    if not meta_ok:
        return prov, DropReason.METADATA_MISMATCH
    return prov, None


__all__ = [
    "decode_findings",
    "encode_findings",
    "from_metadata",
    "seal",
    "signed_bytes",
    "split_metadata",
    "to_metadata",
    "verify",
]
