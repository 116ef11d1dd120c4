"""Sealing: pack a :class:`Provenance` into one signed ``rg_`` record.

Layout version 2 (written since 0.x; version-1 stores still verify, see
:mod:`ragguard.provenance.legacy`) stores two metadata keys per chunk:

* ``rg_seal``: ``"v2.<signature>.<record>"``, where ``<record>`` is compact
  JSON of every provenance field plus ``"v": 2``, and the signature covers
  exactly those stored bytes (after a domain-separation prefix), so nothing
  is re-encoded to verify and no encoder choice can change what was signed;
* ``rg_trust``: an unsigned copy of the record's trust tier, so the trust of a
  stored chunk can be read (and filtered on) without parsing the record;
  verification requires it to equal the sealed value, and the detectors that
  read neighbours believe it only once the neighbour's seal verifies.

Chroma stores every metadata key as its own row, so one packed record costs a
fraction of the 20 flat keys of version 1 on every add, read and query
(``bench/perf.py`` prints both). The signature binds the chunk id, text
digest, vector digest and caller-metadata digest, so changing any sealed
field, the text, the vector, the caller metadata, adding an ``rg_`` key, or
moving a seal onto another chunk id breaks it.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy.typing as npt

from ragguard.provenance.canonical import embedding_digest, metadata_digest, text_digest
from ragguard.provenance.keyring import Keyring
from ragguard.provenance.legacy import PREFIX, from_metadata_v1, signed_bytes_v1, typed_fields
from ragguard.provenance.legacy import RECORD_KEYS as _V1_KEYS
from ragguard.provenance.legacy import SIGNATURE_KEY as _V1_SIGNATURE_KEY
from ragguard.provenance.legacy import VERSION_KEY as _V1_VERSION_KEY
from ragguard.provenance.signers import Signer
from ragguard.types import Action, DropReason, Finding, MetadataValue, Provenance, TrustTier

SEAL_KEY = "rg_seal"
TRUST_KEY = "rg_trust"
RECORD_VERSION = 2
_TAG = "v2."
# Domain separation: a v2 signature can never be a valid signature of anything
# else this key signs (v1 canonical bytes start with "{").
_SIGNED_PREFIX = b"ragguard-seal-v2\n"
_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Provenance))
_RECORD_FIELDS = frozenset([*_FIELD_NAMES, "v"])
_V2_KEYS = frozenset([SEAL_KEY, TRUST_KEY])
#: Every ``rg_`` key either layout writes.
KNOWN_KEYS = _V1_KEYS | _V2_KEYS
_IDENTITY = {name: name for name in _FIELD_NAMES}


#: Longer ``rg_seal`` values are refused unread (a real record is under 2 KB; findings are capped).
MAX_SEAL_CHARS = 16_384


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a seal record")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        raise ValueError("a seal record repeats a field")
    return record


# Strict where json is lenient, so every reader sees one meaning: NaN and Infinity
# are not JSON (the encoder never writes them), and a repeated field is refused
# rather than resolved last-wins.
_DECODE = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_unique_pairs).decode


def split_metadata(metadata: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split stored metadata into (``rg_`` keys, caller keys)."""
    # Set algebra on the key view runs in C: this sits on the retrieval path,
    # once per candidate, and most chunks carry only ragguard's own keys.
    extra = metadata.keys() - KNOWN_KEYS
    if not extra:
        return dict(metadata), {}
    rg = {k: metadata[k] for k in metadata.keys() & KNOWN_KEYS}
    user: dict[str, Any] = {}
    for k in extra:
        (rg if k.startswith(PREFIX) else user)[k] = metadata[k]
    return rg, user


def _record_json(prov: Provenance) -> str:
    record: dict[str, Any] = {"v": RECORD_VERSION}
    for name in _FIELD_NAMES:
        value = getattr(prov, name)
        record[name] = value.value if isinstance(value, (Action, TrustTier)) else value
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _unpack(packed: object) -> tuple[Provenance, str, bytes]:
    """``(provenance, signature, signed bytes)`` of an ``rg_seal`` value.

    Raises:
        ValueError: If it is not a well-formed version-2 record.
    """
    if not isinstance(packed, str) or not packed.startswith(_TAG):
        raise ValueError(f"{SEAL_KEY} is not a version-{RECORD_VERSION} seal")
    if len(packed) > MAX_SEAL_CHARS:
        raise ValueError(f"{SEAL_KEY} is longer than {MAX_SEAL_CHARS} characters")
    signature, dot, body = packed[len(_TAG) :].partition(".")
    if not dot or not signature:
        raise ValueError(f"{SEAL_KEY} has no signature")
    try:
        record = _DECODE(body)
    except RecursionError:  # deeply nested arrays: hostile, and not a ValueError on its own
        raise ValueError(f"{SEAL_KEY} nests too deeply") from None
    if type(record) is not dict or record.keys() != _RECORD_FIELDS:
        raise ValueError(f"{SEAL_KEY} does not hold exactly the provenance fields")
    version = record.pop("v")
    if type(version) is not int or version != RECORD_VERSION:
        raise ValueError(f"unsupported provenance record version {version!r}")
    if "\\ud" in body or "\\uD" in body:  # a surrogate escape: only a pair (one character) is text
        for name, value in record.items():
            if isinstance(value, str) and not _encodes(value):
                # Sealed by a release that let such a record id in: every answer returning the
                # chunk would fail to encode it, so it is a malformed seal, dropped and reported.
                raise ValueError(f"{SEAL_KEY} field {name!r} holds a lone surrogate")
    return typed_fields(record, _IDENTITY), signature, _SIGNED_PREFIX + body.encode("utf-8")


def _encodes(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def from_metadata(metadata: Mapping[str, Any]) -> Provenance:
    """Parse the provenance record in stored metadata (either layout) without checking its seal.

    Raises:
        ValueError: If there is no record or a field is missing or has the wrong type.
    """
    if SEAL_KEY in metadata:
        return _unpack(metadata[SEAL_KEY])[0]
    if metadata.get(_V1_VERSION_KEY) != 1:
        raise ValueError(f"unsupported provenance record version {metadata.get(_V1_VERSION_KEY)!r}")
    return from_metadata_v1(metadata)


def claimed_provenance(metadata: Mapping[str, Any]) -> Provenance | None:
    """What a stored record claims, for reports on chunks whose seal may be broken; never raises."""
    try:
        return from_metadata(metadata)
    except (ValueError, TypeError):
        return None


def encode_findings(findings: Sequence[Finding], limit: int = 16) -> str:
    """The sealed ``findings`` form: compact JSON ``[[detector, code, score], ...]``, strongest first."""
    top = sorted(findings, key=lambda f: -f.score)[:limit]
    return json.dumps([[f.detector, f.code, round(f.score, 4)] for f in top], separators=(",", ":"))


def decode_findings(text: object) -> tuple[tuple[str, str, float], ...]:
    """Inverse of :func:`encode_findings`; ``()`` for anything unreadable (never raises)."""
    try:
        return tuple((str(d), str(c), float(s)) for d, c, s in json.loads(str(text)))
    except (ValueError, TypeError, RecursionError):
        return ()


def seal(prov: Provenance, keyring: Keyring) -> dict[str, MetadataValue]:
    """Sign ``prov`` with the keyring's active key; return the ``rg_`` metadata to store.

    ``prov.key_id`` and ``prov.algorithm`` are overwritten with the active key's,
    so the record always names the key that signed it.
    """
    signer = keyring.active()
    prov = dataclasses.replace(prov, key_id=signer.key_id, algorithm=signer.algorithm)
    body = _record_json(prov)
    signature = signer.sign(_SIGNED_PREFIX + body.encode("utf-8"))
    return {TRUST_KEY: prov.trust.value, SEAL_KEY: f"{_TAG}{signature}.{body}"}


def _copies_agree(rg: Mapping[str, Any], prov: Provenance) -> bool:
    """Whether a layout-2 chunk's ``rg_`` keys are exactly the seal and a trust copy equal to the sealed tier."""
    return rg.keys() == _V2_KEYS and rg[TRUST_KEY] == prov.trust.value


def _open(rg: dict[str, Any]) -> tuple[Provenance | None, str, bytes, DropReason | None]:
    """Parse either layout: ``(provenance, signature, signed bytes, reason)``; reason set on failure."""
    if SEAL_KEY in rg:
        try:
            prov, signature, data = _unpack(rg[SEAL_KEY])
        except (ValueError, TypeError):
            return None, "", b"", DropReason.MALFORMED_SEAL
        # The unsigned trust copy must agree, and no other rg_ key may ride along.
        if not _copies_agree(rg, prov):
            signature = ""  # fails as a bad signature once the key checks pass
        return prov, signature, data, None
    v1_signature = rg.get(_V1_SIGNATURE_KEY)
    if not v1_signature:
        return None, "", b"", DropReason.UNSEALED
    try:
        prov = from_metadata(rg)
        data = signed_bytes_v1(rg)
    except (ValueError, TypeError):
        return None, "", b"", DropReason.MALFORMED_SEAL
    return prov, v1_signature if isinstance(v1_signature, str) else "", data, None


class SealCache:
    """Layout-2 seals whose signature already verified, by their exact stored string.

    Bounded (oldest out first) and safe to share between threads. A hit skips the
    parse and the signature check, the bulk of a seal check; everything that can
    change without the seal string changing is still checked on every read: the
    key must be the same signer object in the keyring and not revoked, the
    unsigned trust copy must agree, and the id, text, vector and caller metadata
    must match what was sealed. One cache per :class:`Keyring`'s user (a
    :class:`~ragguard.guard.Guard`), never global.

    Args:
        maxsize: Entries kept (each holds the seal string and its record, about 2 KB).
    """

    def __init__(self, maxsize: int = 4096) -> None:
        self.maxsize = maxsize
        # Ordered, not a plain dict: evicting a plain dict's oldest key with
        # next(iter(...)) walks over every hole earlier evictions left at its front.
        self._entries: OrderedDict[str, tuple[Provenance, Signer]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, packed: object) -> tuple[Provenance, Signer] | None:
        """The record and signer a seal string verified under, if cached."""
        return self._entries.get(packed) if type(packed) is str else None

    def put(self, packed: str, prov: Provenance, signer: Signer) -> None:
        """Remember that ``packed`` verified under ``signer``."""
        if self.maxsize <= 0:
            return
        with self._lock:
            while len(self._entries) >= self.maxsize:
                self._entries.popitem(last=False)
            self._entries[packed] = (prov, signer)


def _signed_record(
    rg: dict[str, Any], keyring: Keyring, cache: SealCache | None
) -> tuple[Provenance | None, DropReason | None]:
    """The record in ``rg`` if its signature verifies under ``keyring``, else the reason it does not."""
    hit = cache.get(rg.get(SEAL_KEY)) if cache is not None else None
    if hit is not None and keyring.get(hit[0].key_id) is hit[1]:
        prov = hit[0]
        if keyring.is_revoked(prov.key_id):
            return prov, DropReason.REVOKED_KEY
        if not _copies_agree(rg, prov):
            return prov, DropReason.BAD_SIGNATURE
        return prov, None
    parsed, signature, data, reason = _open(rg)
    if reason is not None or parsed is None:
        return None, reason or DropReason.MALFORMED_SEAL
    signer = keyring.get(parsed.key_id)
    if signer is None:
        return parsed, DropReason.UNKNOWN_KEY
    if keyring.is_revoked(parsed.key_id):
        return parsed, DropReason.REVOKED_KEY
    if signer.algorithm != parsed.algorithm or not signature or not signer.verify(data, signature):
        return parsed, DropReason.BAD_SIGNATURE
    if cache is not None and SEAL_KEY in rg:
        cache.put(rg[SEAL_KEY], parsed, signer)
    return parsed, None


def verify(
    chunk_id: str,
    text: str,
    embedding: npt.ArrayLike,
    metadata: Mapping[str, Any],
    keyring: Keyring,
    *,
    cache: SealCache | None = None,
) -> tuple[Provenance | None, DropReason | None]:
    """Check a stored chunk's seal against its id, text, vector and metadata.

    Never raises on bad data: every failure is a :class:`DropReason`.

    Args:
        chunk_id: The id the chunk is stored under.
        text: Its stored text.
        embedding: Its stored vector.
        metadata: Its stored metadata (``rg_`` keys and the caller's).
        keyring: Keys that may have sealed it.
        cache: Seals already verified (see :class:`SealCache`); ``None`` checks every signature.

    Returns:
        ``(provenance, None)`` when the seal verifies, else ``(provenance or None, reason)``.
    """
    rg, user = split_metadata(metadata or {})
    prov, reason = _signed_record(rg, keyring, cache)
    if reason is not None or prov is None:
        return prov, reason or DropReason.MALFORMED_SEAL
    if prov.chunk_id != chunk_id:
        return prov, DropReason.ID_MISMATCH
    try:
        text_ok = isinstance(text, str) and text_digest(text) == prov.text_sha256
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 form, so not what was sealed
        text_ok = False
    if not text_ok:
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
    "KNOWN_KEYS",
    "PREFIX",
    "RECORD_VERSION",
    "SEAL_KEY",
    "SealCache",
    "TRUST_KEY",
    "claimed_provenance",
    "decode_findings",
    "encode_findings",
    "from_metadata",
    "seal",
    "split_metadata",
    "verify",
]
