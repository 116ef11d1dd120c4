"""A LangChain ``Embeddings`` view of a ragguard ``Embedder``.

ragguard stores the vectors it sealed, and a LangChain vector store over the
same collection must embed the *query* with the very same model, or the
nearest neighbours it finds are meaningless. This adapter is that bridge.
"""

from __future__ import annotations

from langchain_core.embeddings import Embeddings
from ragguard.embedders.base import Embedder


class RagguardEmbeddings(Embeddings):
    """Embeds with a ragguard embedder, so queries land in the guard's vector space.

    Use it as the ``embedding_function`` of a ``langchain_chroma.Chroma`` built
    over a ragguard collection. Do not *write* through that vector store:
    chunks added around the guard carry no seal and are never served.

    Args:
        embedder: The guard's embedder (``guard.embedder``), e.g. a
            ``SentenceTransformerEmbedder`` or ``ragguard.testing.FakeEmbedder``.
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Unit vectors for ``texts``, one list of floats each.

        Args:
            texts: The texts to embed.

        Returns:
            One vector per text. float32 values widen to Python floats exactly,
            so a store that narrows them back to float32 sees the same bytes.
        """
        if not texts:
            return []
        vectors: list[list[float]] = self.embedder.embed(list(texts)).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """The vector for one query (the same model and normalisation as ingest).

        Args:
            text: The query.

        Returns:
            The query vector.
        """
        return self.embed_documents([text])[0]
