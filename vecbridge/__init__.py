"""vecbridge: encoders + vector stores behind one hybrid-search API.

>>> from vecbridge import HybridIndex
"""

from vecbridge.fusion import linear, rrf
from vecbridge.index import HybridIndex, Retriever, RetrieverKind
from vecbridge.ingest import IngestReport, read_jsonl

__all__ = ["HybridIndex", "IngestReport", "Retriever", "RetrieverKind", "linear", "read_jsonl", "rrf"]
