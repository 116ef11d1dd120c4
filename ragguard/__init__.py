"""ragguard: an integrity guard for the knowledge base behind RAG.

Seal every chunk's provenance at ingest, screen it before it reaches the
vector store, and serve only what still verifies at retrieval.
"""

from ragguard.config import Settings, SourceRule
from ragguard.errors import (
    ConfigurationError,
    InputError,
    IntegrityError,
    ModelIntegrityError,
    NotFoundError,
    RagguardError,
    SealError,
    SigningKeyError,
    StoreError,
)
from ragguard.guard import Guard
from ragguard.policy import Policy, Thresholds
from ragguard.provenance.keyring import Keyring
from ragguard.quarantine import QuarantineEntry
from ragguard.retrieval import RetrievalFilter
from ragguard.types import (
    Action,
    Chunk,
    Drop,
    DropReason,
    Finding,
    Hit,
    IngestReport,
    Provenance,
    RecordVerdict,
    SearchResult,
    Span,
    StoredChunk,
    TrustTier,
    Verdict,
)

__version__ = "0.1.0"

__all__ = [
    "Action",
    "Chunk",
    "ConfigurationError",
    "Drop",
    "DropReason",
    "Finding",
    "Guard",
    "Hit",
    "IngestReport",
    "InputError",
    "IntegrityError",
    "Keyring",
    "ModelIntegrityError",
    "NotFoundError",
    "Policy",
    "Provenance",
    "QuarantineEntry",
    "RagguardError",
    "RecordVerdict",
    "RetrievalFilter",
    "SealError",
    "SearchResult",
    "SigningKeyError",
    "Settings",
    "SourceRule",
    "Span",
    "StoredChunk",
    "StoreError",
    "Thresholds",
    "TrustTier",
    "Verdict",
    "__version__",
]
