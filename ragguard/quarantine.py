"""Quarantined chunks as a reviewer sees them."""

from __future__ import annotations

import dataclasses
from typing import Any

from ragguard.provenance.keyring import Keyring
from ragguard.provenance.seal import decode_findings, verify
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
        meta = chunk.metadata
        findings = decode_findings(meta.get("rg_findings", "[]"))
        score = meta.get("rg_score", 0.0)
        return cls(
            id=chunk.id,
            text=chunk.text,
            source=str(meta.get("rg_source", "")),
            doc_id=str(meta.get("rg_doc_id", "")),
            score=float(score) if isinstance(score, (int, float)) else 0.0,
            findings=findings,
            ingested_at=str(meta.get("rg_ingested_at", "")),
            seal_valid=reason is None and prov is not None,
        )
