"""Seeded random corpora for the Elasticsearch tests."""

from __future__ import annotations

import numpy as np

from vecbridge.schemas import CollectionSpec, DenseIndex, Document, IndexBatch, Metric, ScalarType, SparseVector

FILTERABLE = {"year": ScalarType.INT, "lang": ScalarType.STRING, "score": ScalarType.FLOAT, "ok": ScalarType.BOOL}
WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma".split()


def make_spec(
    name: str, dim: int = 16, metric: Metric = Metric.IP, dense_index: DenseIndex = DenseIndex.FLAT
) -> CollectionSpec:
    return CollectionSpec(
        name=name,
        dense_dim=dim,
        metric=metric,
        dense_index=dense_index,
        sparse_fields=("sparse", "sparse2"),
        filterable=dict(FILTERABLE),
    )


def random_sparse(rng: np.random.Generator, vocab: int = 120, low: int = 3, high: int = 15) -> SparseVector:
    size = int(rng.integers(low, high))
    indices = rng.choice(vocab, size=size, replace=False)
    return SparseVector(indices=indices, values=rng.uniform(0.01, 3.0, size).astype(np.float32))


def random_metadata(rng: np.random.Generator, i: int) -> dict:
    meta: dict = {"n": i, "tags": ["x", i % 3]}  # non-filterable keys are stored, not indexed
    if rng.random() < 0.85:
        meta["year"] = int(rng.integers(1995, 2025))
    if rng.random() < 0.85:
        meta["lang"] = str(rng.choice(["en", "de", "zh", 'O\'Brien "q" \\x']))
    if rng.random() < 0.85:
        meta["score"] = float(np.round(rng.uniform(0, 1), 3))
    if rng.random() < 0.85:
        meta["ok"] = bool(rng.random() < 0.5)
    if rng.random() < 0.05:
        meta["year"] = None
    return meta


def make_batch(n: int = 120, dim: int = 16, seed: int = 0, normalize: bool = True) -> IndexBatch:
    rng = np.random.default_rng(seed)
    dense = rng.normal(size=(n, dim)).astype(np.float32)
    if normalize:
        dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    docs = [
        Document(
            id=f"d{i:04d}",
            text=" ".join(rng.choice(WORDS, size=int(rng.integers(3, 12)))),
            metadata=random_metadata(rng, i),
        )
        for i in range(n)
    ]
    return IndexBatch(
        documents=docs,
        dense=dense,
        sparse={
            "sparse": [random_sparse(rng) for _ in range(n)],
            "sparse2": [random_sparse(rng, 40) for _ in range(n)],
        },
    )
