"""Version-1 seal records: every provenance field as its own ``rg_`` key.

Stores written before layout version 2 hold these. They still verify, read
only: new seals are written as version 2 (:mod:`ragguard.provenance.seal`),
whose one packed record costs Chroma a fraction of the per-key work on every
add, read and query (``bench/perf.py`` measures both layouts).

The v1 signature covers the canonical bytes of every ``rg_`` key but the
signature itself, so a changed, retyped or added ``rg_`` key breaks it.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Mapping
from typing import Any

from ragguard.provenance.canonical import canonical_bytes
from ragguard.types import Action, MetadataValue, Provenance, TrustTier

V1 = 1
VERSION_KEY = "rg_v"
SIGNATURE_KEY = "rg_sig"
PREFIX = "rg_"

# Provenance field -> metadata key. Stable: part of the v1 store layout.
FIELDS: dict[str, str] = {
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
RECORD_KEYS = frozenset([*FIELDS.values(), VERSION_KEY, SIGNATURE_KEY])
_STR_FIELDS = tuple(name for name in FIELDS if name not in ("chunk_index", "score"))
_STR_VALUES = operator.itemgetter(*_STR_FIELDS)
_TRUST = {t.value: t for t in TrustTier}
_FIELD_SET = frozenset(f.name for f in dataclasses.fields(Provenance))
_ACTION = {a.value: a for a in Action}


def typed_fields(values: dict[str, Any], name_of: Mapping[str, str]) -> Provenance:
    """Check the types of provenance ``values`` (keyed by field name) and build the record.

    Shared by both layouts. ``name_of`` maps a field to the name errors use.

    Raises:
        ValueError: On a wrong type, an unknown trust tier or action.
    """
    if values.keys() != _FIELD_SET:
        raise ValueError("a provenance record must hold exactly the provenance fields")
    # One C-level pass over the string fields: this runs for every retrieved chunk.
    if set(map(type, _STR_VALUES(values))) != {str}:
        bad = next(n for n in _STR_FIELDS if type(values[n]) is not str)
        raise ValueError(f"{name_of[bad]} is not a string")
    index, score = values["chunk_index"], values["score"]
    if isinstance(index, bool) or not isinstance(index, int):
        raise ValueError(f"{name_of['chunk_index']} is not an integer")
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise ValueError(f"{name_of['score']} is not a number")
    try:
        values["score"] = float(score)
    except OverflowError:  # an int too large for a float: refused like any other bad value
        raise ValueError(f"{name_of['score']} is not finite") from None
    if not math.isfinite(values["score"]):  # 1e999 parses to infinity
        raise ValueError(f"{name_of['score']} is not finite")
    # Dict lookups, not Enum(value) calls: this runs for every retrieved chunk.
    trust, action = _TRUST.get(values["trust"]), _ACTION.get(values["action"])
    if trust is None:
        raise ValueError(f"{name_of['trust']} is not a trust tier: {values['trust']!r}")
    if action is None:
        raise ValueError(f"{name_of['action']} is not an action: {values['action']!r}")
    values["trust"], values["action"] = trust, action
    # Every field is present and type-checked above, so the frozen dataclass's
    # __init__ (one object.__setattr__ per field) adds nothing but cost; this runs
    # for every retrieved chunk, and writing the instance dict is ten times cheaper.
    prov = object.__new__(Provenance)
    prov.__dict__.update(values)
    return prov


def to_metadata_v1(prov: Provenance) -> dict[str, MetadataValue]:
    """Flatten provenance into v1 ``rg_`` metadata (unsigned). For tests and migration checks."""
    out: dict[str, MetadataValue] = {VERSION_KEY: V1}
    for name, key in FIELDS.items():
        value = getattr(prov, name)
        out[key] = value.value if isinstance(value, (Action, TrustTier)) else value
    return out


def from_metadata_v1(rg: Mapping[str, Any]) -> Provenance:
    """Parse v1 ``rg_`` metadata into a :class:`Provenance` (no signature check).

    Raises:
        ValueError: If a field is missing or has the wrong type.
    """
    try:
        values = {name: rg[key] for name, key in FIELDS.items()}
    except KeyError as exc:
        raise ValueError(f"missing provenance field {exc.args[0]}") from None
    return typed_fields(values, FIELDS)


def signed_bytes_v1(rg: Mapping[str, Any]) -> bytes:
    """The canonical bytes a v1 seal signs: every ``rg_`` key except the signature."""
    if rg.keys() <= RECORD_KEYS:  # already split: a C-level copy, not a filter
        fields = dict(rg)
        fields.pop(SIGNATURE_KEY, None)
    else:
        fields = {k: v for k, v in rg.items() if k.startswith(PREFIX) and k != SIGNATURE_KEY}
    return canonical_bytes(fields)


__all__ = ["FIELDS", "RECORD_KEYS", "from_metadata_v1", "signed_bytes_v1", "to_metadata_v1", "typed_fields"]
