"""Canonical bytes and digests: what a seal signs must be byte-for-byte reproducible.

Canonicalisation (documented because verification depends on it):

* A provenance record is serialised as JSON with keys sorted, no insignificant
  whitespace, non-ASCII kept as UTF-8 (``ensure_ascii=False``), floats as
  Python's shortest round-trip repr. Only str, int, float, bool and None appear.
* Text digests are SHA-256 over the UTF-8 bytes of the text exactly as stored.
* Embedding digests are SHA-256 over the little-endian float32 bytes of the
  vector exactly as handed to the store. Chroma stores float32 and, in the
  inner-product space ragguard uses, returns the exact bytes (see
  :mod:`ragguard.stores.chroma`).
* Chunk ids are content addressed: SHA-256 over the source URI and the
  *normalised* text (NFC, ``\\n`` line ends, trailing blanks dropped), so the
  same passage from the same source always gets the same id.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any, cast

import numpy as np
import numpy.typing as npt

CHUNK_ID_PREFIX = "rg-"


# One encoder, built once: ``json.dumps`` builds a new one per call, which is
# most of the cost of sealing and verifying a chunk.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _c_encoder() -> Callable[[Any, int], Any] | None:
    """CPython's C encoder with the same options, built once (None where there is none).

    ``JSONEncoder.encode`` rebuilds this object on every call; verification runs
    once per retrieved chunk, so the rebuild is a measurable share of a search.
    The result is checked against the pure encoder at import, so a Python whose
    private signature differs falls back instead of producing other bytes.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        enc = make(None, None, json.encoder.encode_basestring, None, ":", ",", True, False, False)
        probe = {"b": 'é\n"', "a": 1, "c": 0.1, "d": None, "e": True}
        if "".join(enc(probe, 0)) != _ENCODER.encode(probe):
            return None
    except Exception:  # noqa: BLE001 - any failure means: use the portable path
        return None
    return cast(Callable[[Any, int], Any], enc)


_C_ENCODE = _c_encoder()
_SCALARS = (str, int, float, bool, type(None))
_EMPTY_METADATA_SHA256 = hashlib.sha256(b"{}").hexdigest()


def canonical_bytes(record: Mapping[str, Any]) -> bytes:
    """Serialise a flat record to its canonical UTF-8 JSON bytes.

    Raises:
        TypeError: If a value is not a JSON scalar (the record must be flat).
        ValueError: If a float is NaN or infinite.
    """
    for key, value in record.items():
        if not isinstance(value, _SCALARS):
            raise TypeError(f"provenance field {key!r} is not a scalar: {type(value).__name__}")
    if _C_ENCODE is not None:
        return "".join(_C_ENCODE(record if type(record) is dict else dict(record), 0)).encode("utf-8")
    return _ENCODER.encode(dict(record)).encode("utf-8")


def normalise_text(text: str) -> str:
    """Normalise text for content addressing (not for storage)."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def text_digest(text: str) -> str:
    """SHA-256 hex digest of the text's UTF-8 bytes, exactly as stored."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def embedding_digest(vector: npt.ArrayLike) -> str:
    """SHA-256 hex digest of the vector as little-endian float32 bytes."""
    arr = np.ascontiguousarray(np.asarray(vector, dtype="<f4"))
    return hashlib.sha256(arr.tobytes()).hexdigest()


def metadata_digest(metadata: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of caller metadata in canonical form."""
    if not metadata:  # most chunks carry none; verification asks once per retrieved chunk
        return _EMPTY_METADATA_SHA256
    return hashlib.sha256(canonical_bytes(metadata)).hexdigest()


def chunk_id(source: str, text: str) -> str:
    """Content-addressed chunk id from the source URI and normalised text."""
    h = hashlib.sha256()
    h.update(source.encode("utf-8"))
    h.update(b"\x00")
    h.update(normalise_text(text).encode("utf-8"))
    return CHUNK_ID_PREFIX + h.hexdigest()[:32]
