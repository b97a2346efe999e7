"""Encoded batches: what an encoder returns and what a connector stores."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vecbridge.schemas.documents import Document
from vecbridge.schemas.sparse import SparseVector


def _as_dense(value: Any) -> Optional[np.ndarray]:
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"dense must be a 2-d array [n, dim], got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        bad = int(np.argwhere(~np.isfinite(array))[0][0])
        raise ValueError(f"dense row {bad} has non-finite values")
    return np.ascontiguousarray(array)


class Embeddings(BaseModel):
    """One encoded batch: any of dense ``float32[n, dim]``, sparse vectors, ColBERT multi-vectors.

    Every present output has the same number of rows ``n``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    dense: Optional[np.ndarray] = Field(default=None, description="float32 [n, dim]")
    sparse: Optional[list[SparseVector]] = Field(default=None, description="n sparse vectors")
    colbert: Optional[list[np.ndarray]] = Field(default=None, description="n arrays float32 [tokens_i, dim]")

    @field_validator("dense", mode="before")
    @classmethod
    def _dense(cls, value: Any) -> Optional[np.ndarray]:
        return _as_dense(value)

    @field_validator("colbert", mode="before")
    @classmethod
    def _colbert(cls, value: Any) -> Optional[list[np.ndarray]]:
        if value is None:
            return None
        out = []
        for i, item in enumerate(value):
            array = np.asarray(item, dtype=np.float32)
            if array.ndim != 2:
                raise ValueError(f"colbert[{i}] must be 2-d [tokens, dim], got shape {array.shape}")
            out.append(array)
        return out

    @model_validator(mode="after")
    def _same_rows(self) -> Embeddings:
        sizes = {name: n for name, n in self._sizes().items() if n is not None}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"outputs differ in row count: {sizes}")
        return self

    def _sizes(self) -> dict[str, Optional[int]]:
        return {
            "dense": None if self.dense is None else int(self.dense.shape[0]),
            "sparse": None if self.sparse is None else len(self.sparse),
            "colbert": None if self.colbert is None else len(self.colbert),
        }

    def __len__(self) -> int:
        return next((n for n in self._sizes().values() if n is not None), 0)

    @property
    def dense_dim(self) -> Optional[int]:
        return None if self.dense is None else int(self.dense.shape[1])

    @classmethod
    def concat(cls, parts: Sequence[Embeddings]) -> Embeddings:
        """Join batches row-wise (outputs must be present in all parts or none)."""
        if not parts:
            return cls()
        dense = None if parts[0].dense is None else np.concatenate([p.dense for p in parts])
        sparse = None if parts[0].sparse is None else [v for p in parts for v in p.sparse]  # type: ignore[union-attr]  # all parts or none
        colbert = None if parts[0].colbert is None else [v for p in parts for v in p.colbert]  # type: ignore[union-attr]  # all parts or none
        return cls(dense=dense, sparse=sparse, colbert=colbert)

    def select(self, rows: Sequence[int]) -> Embeddings:
        """The given rows, in the given order."""
        rows = list(rows)
        return Embeddings(
            dense=None if self.dense is None else self.dense[rows],
            sparse=None if self.sparse is None else [self.sparse[i] for i in rows],
            colbert=None if self.colbert is None else [self.colbert[i] for i in rows],
        )


class IndexBatch(BaseModel):
    """What a connector writes: documents plus their vectors, row-aligned.

    ``sparse`` maps each sparse field name of the collection to one vector per document (an empty
    ``SparseVector`` for a document without one). ``dense_present`` marks the rows that have no dense
    vector (``False``; their row of ``dense`` is ignored): connectors store those documents without
    one, and dense search never returns them. ``None``: every row has its vector.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    documents: list[Document]
    dense: Optional[np.ndarray] = None
    sparse: dict[str, list[SparseVector]] = Field(default_factory=dict)
    dense_present: Optional[list[bool]] = None

    @field_validator("dense", mode="before")
    @classmethod
    def _dense(cls, value: Any) -> Optional[np.ndarray]:
        return _as_dense(value)

    @model_validator(mode="after")
    def _aligned(self) -> IndexBatch:
        n = len(self.documents)
        if self.dense is not None and self.dense.shape[0] != n:
            raise ValueError(f"dense has {self.dense.shape[0]} rows for {n} documents")
        if self.dense_present is not None:
            if self.dense is None:
                raise ValueError("dense_present needs dense (rows marked False are ignored)")
            if len(self.dense_present) != n:
                raise ValueError(f"dense_present has {len(self.dense_present)} entries for {n} documents")
        for name, vectors in self.sparse.items():
            if len(vectors) != n:
                raise ValueError(f"sparse field {name!r} has {len(vectors)} vectors for {n} documents")
        ids = [d.id for d in self.documents]
        if len(set(ids)) != n:
            dup = sorted(i for i, c in Counter(ids).items() if c > 1)[:5]
            raise ValueError(f"document ids must be unique within a batch, duplicated: {dup}")
        return self

    def __len__(self) -> int:
        return len(self.documents)

    def has_dense(self, row: int) -> bool:
        """Whether document ``row`` comes with a dense vector."""
        return self.dense is not None and (self.dense_present is None or bool(self.dense_present[row]))

    def slice(self, start: int, stop: int) -> IndexBatch:
        return IndexBatch.model_construct(
            documents=self.documents[start:stop],
            dense=None if self.dense is None else self.dense[start:stop],
            sparse={k: v[start:stop] for k, v in self.sparse.items()},
            dense_present=None if self.dense_present is None else self.dense_present[start:stop],
        )
