"""Documents as stored, with the vectors the store holds for them (``get``/``iterate`` with vectors)."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from vecbridge.schemas.documents import Document
from vecbridge.schemas.sparse import SparseVector


class StoredDocument(Document):
    """A ``Document`` with its stored vectors: ``dense`` (None when the collection has no dense
    field) and ``sparse`` by field name (a field the document has no value in is left out).

    Values are what the store returns: float32 for Milvus' dense vectors, and for Elasticsearch the
    ``_source`` as written (rank_features' 9-bit truncation applies to scoring, not to ``_source``)."""

    dense: Optional[list[float]] = Field(default=None, description="The stored dense vector.")
    sparse: dict[str, SparseVector] = Field(default_factory=dict, description="Stored sparse vectors by field.")
