"""Sparse vectors: sorted unique uint32 indices with finite positive float32 values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, field_serializer, field_validator, model_validator

_MAX_INDEX = 2**32 - 1


class SparseVector(BaseModel):
    """A sparse vector (token id -> weight).

    Construction sorts by index, drops zero weights and rejects duplicates, negative or
    non-finite values, so every backend receives the same canonical form.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    indices: np.ndarray
    values: np.ndarray

    @field_validator("indices", mode="before")
    @classmethod
    def _as_indices(cls, value: Any) -> np.ndarray:
        array = np.asarray(value)
        if array.ndim != 1:
            raise ValueError(f"indices must be one-dimensional, got shape {array.shape}")
        if array.size and not np.issubdtype(array.dtype, np.integer):
            if not np.all(np.equal(np.mod(array, 1), 0)):
                raise ValueError(f"indices must be integers, got {array[:5].tolist()}")
        array = array.astype(np.int64)
        if array.size and (array.min() < 0 or array.max() > _MAX_INDEX):
            raise ValueError(f"indices must lie in [0, 2**32-1], got min {array.min()} max {array.max()}")
        return array.astype(np.uint32)

    @field_validator("values", mode="before")
    @classmethod
    def _as_values(cls, value: Any) -> np.ndarray:
        array = np.asarray(value, dtype=np.float32)
        if array.ndim != 1:
            raise ValueError(f"values must be one-dimensional, got shape {array.shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"values must be finite, got {array[~np.isfinite(array)][:5].tolist()}")
        if np.any(array < 0):
            raise ValueError(f"values must be >= 0 (zeros are dropped), got {array[array < 0][:5].tolist()}")
        return array

    @field_serializer("indices", "values")
    def _as_list(self, array: np.ndarray) -> list:
        return array.tolist()  # JSON (dead-letter rows of documents that bring vectors)

    @model_validator(mode="wrap")
    @classmethod
    def _canonical(cls, value: Any, handler: Any) -> SparseVector:
        if isinstance(value, SparseVector):
            return value  # frozen and canonical already: containers need not re-check it
        self = handler(value)
        if self.indices.shape != self.values.shape:
            raise ValueError(f"indices ({self.indices.size}) and values ({self.values.size}) differ in length")
        order = np.argsort(self.indices, kind="stable")
        indices, values = self.indices[order], self.values[order]
        if indices.size > 1 and np.any(indices[1:] == indices[:-1]):
            dup = indices[1:][indices[1:] == indices[:-1]]
            raise ValueError(f"indices must be unique, duplicated: {dup[:5].tolist()}")
        keep = values > 0
        object.__setattr__(self, "indices", np.ascontiguousarray(indices[keep]))
        object.__setattr__(self, "values", np.ascontiguousarray(values[keep]))
        return self

    # ---- converters -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, weights: Union[Mapping[int, float], Mapping[str, float]]) -> SparseVector:
        """From ``{token_id: weight}``; keys may be ints or digit strings (FlagEmbedding's form)."""
        try:
            keys = [int(k) for k in weights]
        except ValueError as exc:
            raise ValueError(f"sparse keys must be token ids (ints or digit strings): {exc}") from exc
        return cls(indices=np.asarray(keys, dtype=np.int64), values=np.asarray(list(weights.values()), np.float32))

    @classmethod
    def from_lexical_weights(cls, weights: Mapping[str, float]) -> SparseVector:
        """From FlagEmbedding's ``lexical_weights`` dict (``{"token_id": weight}``)."""
        return cls.from_dict(weights)

    @classmethod
    def from_csr_row(cls, matrix: Any, row: int = 0) -> SparseVector:
        """From one row of a scipy CSR matrix."""
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        return cls(indices=matrix.indices[start:end], values=matrix.data[start:end])

    def to_dict(self) -> dict[int, float]:
        return dict(zip(self.indices.tolist(), self.values.tolist(), strict=True))

    def to_lexical_weights(self) -> dict[str, float]:
        """To FlagEmbedding's ``lexical_weights`` dict form."""
        return {str(i): v for i, v in zip(self.indices.tolist(), self.values.tolist(), strict=True)}

    def to_csr(self, dim: int) -> Any:
        """A 1 x ``dim`` scipy CSR matrix."""
        from scipy.sparse import csr_matrix

        if self.indices.size and int(self.indices[-1]) >= dim:
            raise ValueError(f"index {int(self.indices[-1])} does not fit dim={dim}")
        return csr_matrix((self.values, self.indices, [0, self.indices.size]), shape=(1, dim))

    def dot(self, other: SparseVector) -> float:
        """Sparse inner product."""
        _, a, b = np.intersect1d(self.indices, other.indices, assume_unique=True, return_indices=True)
        return float(np.dot(self.values[a].astype(np.float64), other.values[b].astype(np.float64)))

    def __len__(self) -> int:
        return int(self.indices.size)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SparseVector)
            and np.array_equal(self.indices, other.indices)
            and np.array_equal(self.values, other.values)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable arrays: unhashable, as pydantic models with __eq__
