"""Documents with vectors: written as given (``VectorDocument``) and read back (``StoredDocument``)."""

from __future__ import annotations

import math
from typing import Any, Optional

from pydantic import Field, field_validator

from vecbridge.schemas.documents import Document
from vecbridge.schemas.sparse import SparseVector


class VectorDocument(Document):
    """A ``Document`` that brings its own vectors: ``dense`` and/or ``sparse`` (by the collection's
    sparse field name). ``HybridIndex.upsert`` writes given vectors exactly as given and encodes
    only what is missing (a row's missing output). The dimension is checked against the collection
    when written; here every value must be a finite number."""

    dense: Optional[list[float]] = Field(default=None, description="The dense vector (None: encode it, or store none).")
    sparse: dict[str, SparseVector] = Field(
        default_factory=dict, description="Sparse vectors by field name (a field left out: encode it, or store none)."
    )

    @field_validator("dense", mode="before")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, (str, bytes, dict)):
            raise ValueError(f"must be a list of floats, got {type(value).__name__}")
        values = [float(x) for x in value]  # numpy arrays and float32 scalars too
        if not values:
            raise ValueError("must not be empty (leave it None for no dense vector)")
        bad = next((i for i, x in enumerate(values) if not math.isfinite(x)), None)
        if bad is not None:
            raise ValueError(f"dense[{bad}]={values[bad]!r} is not a finite number")
        return values


class StoredDocument(VectorDocument):
    """A ``Document`` with its stored vectors: ``dense`` (None when the collection has no dense
    field, or the document was stored without one) and ``sparse`` by field name (a field the
    document has no value in is left out). Upserting it back writes the same vectors.

    Values are what the store returns: float32 for Milvus' dense vectors, and for Elasticsearch the
    ``_source`` as written (rank_features' 9-bit truncation applies to scoring, not to ``_source``)."""
