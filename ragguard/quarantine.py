"""Quarantined chunks as a reviewer sees them."""

from __future__ import annotations

import dataclasses
from typing import Any

from ragguard.provenance.keyring import Keyring
from ragguard.provenance.seal import claimed_provenance, decode_findings, verify
from ragguard.types import StoredChunk


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
