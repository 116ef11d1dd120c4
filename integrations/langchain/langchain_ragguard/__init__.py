"""LangChain integration for ragguard.

* :class:`GuardedRetriever` wraps any retriever (first of all a Chroma one over
  the guard's store) and returns only documents that pass ragguard's retrieval
  filter; :class:`RagguardRetriever` searches through the guard directly.
* :func:`index_documents` sends documents from any loader or splitter through
  the guard's ingest gate.
* :class:`RagguardEmbeddings` lets a LangChain vector store embed queries with
  the guard's own model.
* Drops are reported per call through callbacks (:data:`FILTER_EVENT`,
  :class:`DropCollector`).
"""

from langchain_ragguard.embeddings import RagguardEmbeddings
from langchain_ragguard.events import FILTER_EVENT, DropCollector, FilterReport
from langchain_ragguard.indexing import aindex_documents, document_record, flatten_metadata, index_documents
from langchain_ragguard.retrievers import GuardedRetriever, RagguardRetriever

__version__ = "0.1.0"

__all__ = [
    "FILTER_EVENT",
    "DropCollector",
    "FilterReport",
    "GuardedRetriever",
    "RagguardEmbeddings",
    "RagguardRetriever",
    "__version__",
    "aindex_documents",
    "document_record",
    "flatten_metadata",
    "index_documents",
]
