"""vecbridge: encoders + vector stores behind one hybrid-search API.

>>> from vecbridge import HybridIndex
>>> from vecbridge import AsyncHybridIndex  # the same API for asyncio
"""

from vecbridge.async_index import AsyncHybridIndex
from vecbridge.fusion import linear, rrf
from vecbridge.index import HybridIndex, Retriever, RetrieverKind
from vecbridge.ingest import IngestReport, read_jsonl

__all__ = ["AsyncHybridIndex", "HybridIndex", "IngestReport", "Retriever", "RetrieverKind", "linear", "read_jsonl", "rrf"]
