"""Encoder stand-ins for tests: a deterministic bag-of-words encoder and one that returns
precomputed vectors. Both follow the ``vecbridge.encoders.Encoder`` protocol and load no model."""

from __future__ import annotations

import hashlib
import re
from typing import Optional

import numpy as np

from vecbridge.encoders import OutputKind
from vecbridge.schemas import Embeddings, SparseVector

__all__ = ["BagOfWordsEncoder", "PrecomputedEncoder"]


def _token_id(token: str, dim: int) -> int:
    return int(hashlib.md5(token.encode()).hexdigest(), 16) % dim


class BagOfWordsEncoder:
    """Dense = normalized hashed bag of words (dim 32); sparse = term counts by hashed id."""

    name = "bag-of-words"
    outputs = frozenset({OutputKind.DENSE, OutputKind.SPARSE})
    dense_dim = 32
    sparse_vocab_size = 1000
    normalize = True

    def __init__(self) -> None:
        self.calls = 0

    def _encode(self, texts):
        self.calls += 1
        dense = np.zeros((len(texts), self.dense_dim), np.float32)
        sparse = []
        for row, text in enumerate(texts):
            counts: dict[int, float] = {}
            for token in re.findall(r"\w+", text.lower()):
                dense[row, _token_id(token, self.dense_dim)] += 1
                tid = _token_id(token, self.sparse_vocab_size)
                counts[tid] = counts.get(tid, 0.0) + 1.0
            norm = np.linalg.norm(dense[row]) or 1.0
            dense[row] /= norm
            sparse.append(SparseVector.from_dict(counts))
        return Embeddings(dense=dense, sparse=sparse)

    encode_documents = _encode
    encode_queries = _encode


class PrecomputedEncoder:
    """Encoder stand-in returning precomputed (dense, sparse) vectors looked up by text.

    Fill ``table[text] = (dense_row, sparse_vector)``; unknown texts raise ``KeyError`` naming them.
    Lets tests put exactly the same vectors into several backends through the facade."""

    name = "precomputed"
    outputs = frozenset({OutputKind.DENSE, OutputKind.SPARSE})

    def __init__(self, dense_dim: int, sparse_vocab_size: Optional[int] = None) -> None:
        self.dense_dim = dense_dim
        self.sparse_vocab_size = sparse_vocab_size
        self.table: dict[str, tuple[np.ndarray, SparseVector]] = {}

    def encode_documents(self, texts: list[str]) -> Embeddings:
        missing = [t for t in texts if t not in self.table]
        if missing:
            raise KeyError(f"PrecomputedEncoder has no vectors for texts {missing[:3]}")
        rows = [self.table[t] for t in texts]
        return Embeddings(dense=np.stack([r[0] for r in rows]).astype(np.float32), sparse=[r[1] for r in rows])

    encode_queries = encode_documents
