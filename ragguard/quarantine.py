"""Quarantined chunks as a reviewer sees them, and the reviewer's release."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ragguard._clock import utc_now
from ragguard.errors import IntegrityError, NotFoundError
from ragguard.provenance.keyring import Keyring
from ragguard.provenance.seal import claimed_provenance, decode_findings, seal, split_metadata, verify
from ragguard.stores.base import Collection
from ragguard.types import Action, StoredChunk


@dataclasses.dataclass(frozen=True)
class QuarantineEntry:
    """A quarantined chunk, for review."""

    id: str
    text: str
    source: str
    doc_id: str
    score: float
    findings: tuple[tuple[str, str, float], ...]
    ingested_at: str
    seal_valid: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "source": self.source,
            "doc_id": self.doc_id,
            "score": round(self.score, 4),
            "findings": [{"detector": d, "code": c, "score": s} for d, c, s in self.findings],
            "ingested_at": self.ingested_at,
            "seal_valid": self.seal_valid,
            "text": self.text,
        }

    @classmethod
    def from_stored(cls, chunk: StoredChunk, keyring: Keyring) -> QuarantineEntry:
        """Read an entry from a stored chunk; ``seal_valid`` says whether its seal verifies."""
        prov, reason = verify(chunk.id, chunk.text, chunk.embedding, chunk.metadata, keyring)
        # A broken seal still shows what the record claims, marked invalid.
        claimed = prov if prov is not None else claimed_provenance(chunk.metadata)
        return cls(
            id=chunk.id,
            text=chunk.text,
            source=claimed.source if claimed else "",
            doc_id=claimed.doc_id if claimed else "",
            score=claimed.score if claimed else 0.0,
            findings=decode_findings(claimed.findings) if claimed else (),
            ingested_at=claimed.ingested_at if claimed else "",
            seal_valid=reason is None and prov is not None,
        )


def find_quarantined(quarantine: Collection, chunk_id: str) -> StoredChunk:
    """The quarantined chunk with this id.

    Raises:
        NotFoundError: If no quarantined chunk has this id.
    """
    found = quarantine.get([chunk_id])
    if not found:
        raise NotFoundError(f"no quarantined chunk with id {chunk_id!r}")
    return found[0]


def release(served: Collection, quarantine: Collection, chunk: StoredChunk, keyring: Keyring) -> None:
    """Re-seal a quarantined chunk as allowed and move it to the served collection.

    Safe to repeat after a crash: the served write is idempotent and comes
    before the quarantine delete.

    Raises:
        IntegrityError: If the chunk fails its seal (it stays quarantined).
    """
    prov, reason = verify(chunk.id, chunk.text, chunk.embedding, chunk.metadata, keyring)
    if reason is not None or prov is None:
        why = reason.value if reason else "unreadable seal"
        raise IntegrityError(f"quarantined chunk {chunk.id} fails its seal ({why}); it stays quarantined")
    released = dataclasses.replace(prov, action=Action.ALLOW, review=f"released {utc_now()}")
    _, user = split_metadata(chunk.metadata)
    meta = {**user, **seal(released, keyring)}
    served.add([chunk.id], np.asarray([chunk.embedding], dtype=np.float32), [chunk.text], [meta])
    quarantine.delete([chunk.id])


__all__ = ["QuarantineEntry", "find_quarantined", "release"]
