"""Indexing LangChain documents through the guard.

Documents from any loader or splitter become ragguard records: the text is
``page_content``, the source is ``metadata["source"]``, the record id is
``Document.id`` (when set), and the rest of the metadata is flattened to the
scalars Chroma can store. Every record is then screened, sealed and stored by
``Guard.ingest`` exactly as from the CLI.

Metadata flattening (:func:`flatten_metadata`), key by key:

* ``str``, ``int``, finite ``float``, ``bool``: kept (numpy scalars are unwrapped).
* ``None``, NaN and infinite floats: dropped (no scalar stands for "missing").
* mappings, lists, tuples and sets: JSON-encoded into one string, keys
  sorted, sets sorted, so equal values give equal strings (and equal seals).
  Values inside that JSON cannot express are written as ``str(value)``.
* any other object (``datetime``, ``Path``, ``UUID``, enums...): ``str(value)``,
  or the enum's value.
* strings longer than ragguard's limit (8192 characters, after encoding):
  dropped, not truncated, because a cut value would silently change meaning.
* keys: non-string keys become ``str(key)``; empty keys and keys starting with
  the reserved ``rg_`` prefix are dropped; past ragguard's limit of 64 keys the
  rest are dropped.

Every dropped key is logged at WARNING with its reason.
"""

from __future__ import annotations

import enum
import json
import logging
import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.runnables.config import run_in_executor
from ragguard.guard import Guard
from ragguard.provenance.seal import PREFIX
from ragguard.records import MAX_METADATA_KEYS, MAX_METADATA_VALUE_CHARS
from ragguard.types import IngestReport, MetadataValue, TrustTier

__all__ = ["aindex_documents", "document_record", "flatten_metadata", "index_documents"]

log = logging.getLogger(__name__)

#: Metadata keys that become part of the record rather than its metadata.
RECORD_KEYS = ("source",)


def flatten_metadata(metadata: Mapping[Any, Any], *, exclude: Iterable[str] = ()) -> dict[str, MetadataValue]:
    """Flatten LangChain metadata into ragguard's scalar metadata (rules in the module docstring).

    Args:
        metadata: ``Document.metadata``.
        exclude: Keys to leave out (e.g. ``source``, which becomes the record's source).

    Returns:
        A dict ragguard accepts: at most 64 non-reserved string keys with
        scalar values no longer than 8192 characters.
    """
    skip = set(exclude)
    out: dict[str, MetadataValue] = {}
    for raw_key, raw_value in metadata.items():
        key = raw_key if isinstance(raw_key, str) else str(raw_key)
        if key in skip:
            continue
        why: str | None
        if not key:
            why = "empty key"
        elif key.startswith(PREFIX):
            why = f"the {PREFIX!r} prefix is reserved for ragguard's seal"
        elif len(out) >= MAX_METADATA_KEYS:
            why = f"more than {MAX_METADATA_KEYS} keys"
        else:
            value, why = _scalar(raw_value)
            if why is None and value is not None:
                out[key] = value
                continue
        log.warning("metadata %r dropped: %s", key, why)
    return out


def _scalar(value: Any) -> tuple[MetadataValue | None, str | None]:
    """``(scalar, None)``, or ``(None, why it is dropped)``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None:
        return None, "value is None"
    if isinstance(value, bool):
        return value, None
    if isinstance(value, int):
        return int(value), None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None, f"{value} is not a finite number"
        return float(value), None
    if isinstance(value, str):
        text = str(value)  # str subclasses become plain str, which canonicalises predictably
    elif isinstance(value, (Mapping, list, tuple, set, frozenset)):
        try:
            text = json.dumps(
                value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default
            )
        except (TypeError, ValueError) as exc:  # mixed key types, NaN inside...
            return None, f"cannot be JSON-encoded ({exc})"
    else:
        text = str(value)
    if len(text) > MAX_METADATA_VALUE_CHARS:
        return None, f"{len(text)} characters, more than {MAX_METADATA_VALUE_CHARS}"
    return text, None


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)  # sets have no order; sort so the encoding is stable
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, enum.Enum):
        return value.value
    return str(value)


def document_record(document: Document, *, source: str | None = None) -> dict[str, Any]:
    """The ragguard record for one LangChain document.

    Args:
        document: The document.
        source: Source for a document whose metadata names none.

    Returns:
        A mapping ``Guard.ingest`` validates: ``text``, ``metadata``, and
        ``id`` / ``source`` when known.
    """
    record: dict[str, Any] = {
        "text": document.page_content,
        "metadata": flatten_metadata(document.metadata, exclude=RECORD_KEYS),
    }
    doc_source = document.metadata.get("source")
    if isinstance(doc_source, os.PathLike):
        doc_source = os.fspath(doc_source)
    if doc_source is not None and not isinstance(doc_source, str):
        doc_source = str(doc_source)
    if doc_source and doc_source.strip():
        record["source"] = doc_source
    elif source is not None:
        record["source"] = source
    if document.id:
        record["id"] = document.id
    return record


def index_documents(
    guard: Guard,
    documents: Iterable[Document],
    *,
    trust: TrustTier | str | None = None,
    source: str | None = None,
) -> IngestReport:
    """Screen, seal and store LangChain documents through the guard.

    Long documents are chunked by the guard. Retrieved chunks carry the
    indexed ``Document.id`` as ``metadata["doc_id"]``; their own ids are
    content-addressed chunk ids.

    Args:
        guard: The guard to ingest through.
        documents: Documents from any loader or splitter.
        trust: Requested trust tier; configuration can lower it, never raise it.
        source: Source for documents whose metadata names none.

    Returns:
        The guard's report: a verdict per document, in order, and counts.

    Raises:
        TypeError: ``documents`` is not an iterable of LangChain Documents.
        ragguard.InputError: A document is invalid (e.g. empty text); nothing is stored.
    """
    records = [document_record(d, source=source) for d in _documents(documents)]
    return guard.ingest(records, trust=trust)


def _documents(documents: Iterable[Document]) -> list[Document]:
    """``documents`` as a list, or a TypeError naming what came instead of LangChain documents."""
    if isinstance(documents, (Document, str)):
        raise TypeError(f"documents must be an iterable of LangChain Documents, got one {type(documents).__name__}")
    docs = list(documents)
    for i, d in enumerate(docs):
        if not isinstance(d, Document):
            raise TypeError(f"documents[{i}] is a {type(d).__name__}, not a LangChain Document")
    return docs


async def aindex_documents(
    guard: Guard,
    documents: Iterable[Document],
    *,
    trust: TrustTier | str | None = None,
    source: str | None = None,
) -> IngestReport:
    """Async :func:`index_documents` (the guard's blocking work runs in an executor)."""
    docs = _documents(documents)
    return await run_in_executor(None, lambda: index_documents(guard, docs, trust=trust, source=source))
