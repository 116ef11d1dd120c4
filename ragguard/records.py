"""Input records: validation, reading files, and chunking.

Inputs are strings or mappings with ``text`` and optional ``id``, ``source``,
``metadata``; files are ``.jsonl`` (one object a line), ``.txt`` / ``.md``, or
folders of them. Everything is validated before anything is stored, so one bad
record fails the call with a message that names it, and the store is untouched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragguard.errors import InputError
from ragguard.provenance.canonical import chunk_id
from ragguard.provenance.seal import PREFIX
from ragguard.types import Chunk, MetadataValue

log = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
#: Largest caller metadata value, in characters (Chroma metadata is for short scalars).
MAX_METADATA_VALUE_CHARS = 8192
MAX_METADATA_KEYS = 64
#: The metadata key the audit adds to what it copies to quarantine as-is (ragguard.quarantine.AUDIT_REASON_KEY).
AUDIT_EVIDENCE_KEY = "audit_reason"
# Chroma refuses metadata keys starting with "#" or "$" (its operators) and reserves "chroma:".
_STORE_RESERVED = ("#", "$", "chroma:")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
UNSPECIFIED_SOURCE = "urn:ragguard:unspecified"


@dataclass(frozen=True)
class InputRecord:
    """One validated input record."""

    id: str
    text: str
    source: str
    metadata: Mapping[str, MetadataValue] = field(default_factory=dict)


def coerce_records(
    records: Iterable[str | Mapping[str, Any] | InputRecord], default_source: str | None = None
) -> list[InputRecord]:
    """Validate API input into :class:`InputRecord` objects.

    Args:
        records: Strings, or mappings with ``text`` and optional ``id``, ``source``, ``metadata``.
        default_source: Source for records that name none.

    Raises:
        InputError: Naming the first bad record and what is wrong with it.
    """
    if isinstance(records, (str, bytes, Mapping)):
        raise InputError("records must be a list of strings or mappings, not a single record")
    out = []
    for i, rec in enumerate(records):
        where = f"record {i}"
        if isinstance(rec, InputRecord):
            validate_text(rec.text, f"record {rec.id!r}")
            validate_utf8(rec.id, "'id'", f"record {rec.id!r}")
            validate_utf8(rec.source, "'source'", f"record {rec.id!r}")
            meta = validate_metadata(rec.metadata, f"record {rec.id!r}")
            out.append(InputRecord(rec.id, rec.text, rec.source, meta))
            continue
        if isinstance(rec, str):
            rec = {"text": rec}
        if not isinstance(rec, Mapping):
            raise InputError(f"{where}: expected a string or a mapping with 'text', got {type(rec).__name__}")
        out.append(_record_from_mapping(rec, where, default_source))
    return out


def _record_from_mapping(
    rec: Mapping[str, Any], where: str, default_source: str | None, *, in_file: bool = False
) -> InputRecord:
    """One input record; errors name ``where``, or the record's own id once it has one.

    With ``in_file``, ``where`` is a file and line and errors keep it before the id.
    """
    text = rec.get("text")
    if not isinstance(text, str):
        raise InputError(f"{where}: 'text' is missing or not a string")
    rid = rec.get("id")
    if rid is not None and not isinstance(rid, (str, int)):
        raise InputError(f"{where}: 'id' must be a string or an integer")
    if rid is not None and not (in_file and str(rid) == where):  # a JSONL line's default id is its place
        where = f"{where}: record {rid!r}" if in_file else f"record {rid!r}"
    if isinstance(rid, str):
        validate_utf8(rid, "'id'", where)
    validate_text(text, where)
    source = rec.get("source") or default_source or UNSPECIFIED_SOURCE
    if not isinstance(source, str):
        raise InputError(f"{where}: 'source' must be a string")
    validate_utf8(source, "'source'", where)
    meta = validate_metadata(rec.get("metadata") or {}, where)
    if rid is None:
        rid = "rec-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return InputRecord(id=str(rid), text=text, source=source, metadata=meta)


def validate_text(text: str, where: str) -> None:
    """Reject empty, whitespace-only and binary-looking text.

    Raises:
        InputError: Naming the record.
    """
    if not text.strip():
        raise InputError(f"{where}: text is empty")
    if "\x00" in text:
        raise InputError(f"{where}: text contains NUL bytes (binary data?)")
    validate_utf8(text, "text", where)


def validate_utf8(value: str, what: str, where: str) -> None:
    """Reject strings UTF-8 cannot encode: lone surrogates, left by a decoding error upstream.

    Nothing downstream can take them (the store, JSON output, HTTP responses), so a
    record holding one would be written and then break every answer that returns it.

    Raises:
        InputError: Naming the record, the field and the position.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"{where}: {what} holds a lone surrogate (U+{ord(value[exc.start]):04X}) at position {exc.start}, "
            "which UTF-8 cannot encode (text decoded with errors='surrogateescape' or a broken \\u escape?)"
        ) from None


def validate_metadata(meta: Any, where: str) -> dict[str, MetadataValue]:
    """Caller metadata must be flat: string keys, scalar values, bounded size.

    Raises:
        InputError: Naming the record and the offending key.
    """
    if not isinstance(meta, Mapping):
        raise InputError(f"{where}: 'metadata' must be an object")
    if len(meta) > MAX_METADATA_KEYS:
        raise InputError(f"{where}: metadata has {len(meta)} keys; at most {MAX_METADATA_KEYS} are allowed")
    out: dict[str, MetadataValue] = {}
    for key, value in meta.items():
        if not isinstance(key, str) or not key:
            raise InputError(f"{where}: metadata keys must be non-empty strings")
        validate_utf8(key, f"metadata key {key!r}", where)
        if key.startswith(PREFIX):
            raise InputError(f"{where}: metadata key {key!r} uses the reserved prefix {PREFIX!r}")
        if key == AUDIT_EVIDENCE_KEY:
            # It marks what an audit copied to quarantine as-is; a record carrying it would pass for that.
            raise InputError(f"{where}: metadata key {key!r} is reserved for the audit's evidence")
        if key.startswith(_STORE_RESERVED):
            raise InputError(
                f"{where}: metadata key {key!r} starts with {key[0] if key[0] in '#$' else 'chroma:'!r}, "
                "which the vector store reserves"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{where}: metadata {key!r} is {value}; only finite numbers can be stored")
        if isinstance(value, int) and not isinstance(value, bool) and not _INT64_MIN <= value <= _INT64_MAX:
            # Chroma would keep it as a float: not the sealed value, so never served again.
            raise InputError(
                f"{where}: metadata {key!r} is an integer outside 64 bits, which the store cannot keep; "
                "store it as a string"
            )
        if isinstance(value, float) and value == 0.0:
            value = 0.0  # -0.0 comes back from the store as 0.0: seal what will be read back
        if not isinstance(value, (str, int, float, bool)):
            raise InputError(
                f"{where}: metadata {key!r} is a {type(value).__name__}; only strings, numbers and booleans "
                "can be stored (flatten nested values)"
            )
        if isinstance(value, str) and len(value) > MAX_METADATA_VALUE_CHARS:
            raise InputError(f"{where}: metadata {key!r} is longer than {MAX_METADATA_VALUE_CHARS} characters")
        if isinstance(value, str):
            validate_utf8(value, f"metadata {key!r}", where)
        out[key] = value
    return out


# -- files --------------------------------------------------------------
def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files named, and the supported files inside folders named (sorted).

    Raises:
        InputError: If a path does not exist, or a folder holds no supported file.
    """
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise InputError(f"{p}: no such file or folder")
        if p.is_dir():
            inside = [f for f in p.rglob("*") if f.is_file()]
            found = sorted(f for f in inside if f.suffix.lower() in TEXT_SUFFIXES + JSONL_SUFFIXES)
            if not found:
                raise InputError(f"{p}: folder holds no .jsonl, .txt or .md files")
            others = sorted({f.suffix.lower() or "(none)" for f in inside} - set(TEXT_SUFFIXES + JSONL_SUFFIXES))
            if others:
                # Folders hold other files (images, PDFs, CSVs): skipped, but said, so none goes missing unseen.
                log.warning(
                    "%s: skipped %d file(s) of other types (%s); only .jsonl, .txt and .md are read",
                    p, len(inside) - len(found), ", ".join(others),
                )  # fmt: skip
            files.extend(found)
        elif p.suffix.lower() in TEXT_SUFFIXES + JSONL_SUFFIXES:
            files.append(p)
        else:
            raise InputError(f"{p}: unsupported file type {p.suffix or '(none)'} (use .jsonl, .txt or .md)")
    return files


def read_paths(paths: Sequence[str | Path], source: str | None = None) -> list[InputRecord]:
    """Read and validate every record from files and folders.

    Records with no ``source`` get ``source`` or, failing that, the file's URI.

    Raises:
        InputError: Naming the file (and line) and the problem.
    """
    out: list[InputRecord] = []
    for f in expand_paths(paths):
        out.extend(_read_file(f, source))
    return out


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 (invalid byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None


def _read_file(path: Path, source: str | None) -> Iterator[InputRecord]:
    text = _read_text(path)
    file_source = source or path.resolve().as_uri()
    if path.suffix.lower() in TEXT_SUFFIXES:
        validate_text(text, str(path))
        yield InputRecord(id=str(path), text=text, source=file_source)
        return
    seen = 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: malformed JSON ({exc.msg}: column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise InputError(f"{where}: expected a JSON object with 'text'")
        if obj.get("id") is None:
            obj = {**obj, "id": where}
        # A source named in the record wins over the file; --source wins over both.
        rec_source = source or (obj.get("source") if isinstance(obj.get("source"), str) else None) or file_source
        yield _record_from_mapping({**obj, "source": rec_source}, where, file_source, in_file=True)
        seen += 1
    if seen == 0:
        raise InputError(f"{path}: no records")


# -- chunking -----------------------------------------------------------
@dataclass(frozen=True)
class Chunker:
    """Splits long texts with LangChain's recursive character splitter."""

    chunk_size: int = 1000
    chunk_overlap: int = 100

    @property
    def overlap(self) -> int:
        """The most characters two consecutive chunks share."""
        return min(self.chunk_overlap, self.chunk_size // 2)

    def split(self, record: InputRecord) -> list[Chunk]:
        """Chunks of one record, each with a content-addressed id."""
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        if len(record.text) <= self.chunk_size:
            pieces = [record.text]
        else:
            splitter = RecursiveCharacterTextSplitter(chunk_size=self.chunk_size, chunk_overlap=self.overlap)
            pieces = [p for p in splitter.split_text(record.text) if p.strip()]
        return [
            Chunk(
                id=chunk_id(record.source, piece),
                text=piece,
                source=record.source,
                doc_id=record.id,
                chunk_index=i,
                metadata=record.metadata,
            )
            for i, piece in enumerate(pieces)
        ]
