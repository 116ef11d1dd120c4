"""Embedders ragguard plugs into."""

from ragguard.embedders.base import Embedder
from ragguard.embedders.sentence_transformers import (
    DEFAULT_MODEL_ID,
    DEFAULT_MODEL_SHA256,
    SentenceTransformerEmbedder,
    weights_digest,
)

__all__ = ["DEFAULT_MODEL_ID", "DEFAULT_MODEL_SHA256", "Embedder", "SentenceTransformerEmbedder", "weights_digest"]
