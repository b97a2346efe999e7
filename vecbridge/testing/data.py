"""Deterministic synthetic corpora and brute-force numpy ground truth for the conformance suite."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from vecbridge.schemas import CollectionSpec, Document, Hit, IndexBatch, Metric, ScalarType, SparseVector

FILTERABLE = {
    "genre": ScalarType.STRING,
    "year": ScalarType.INT,
    "price": ScalarType.FLOAT,
    "flag": ScalarType.BOOL,
    "when": ScalarType.DATETIME,
}
WHEN = ["1969-07-21T20:17:40", "1972-12-11T19:54:58.123456+01:00", "1989-11-09T17:53:00Z", "2024-02-29", None, "absent"]
"""``when`` values cycled over a corpus: naive (UTC), with an offset and microseconds, Z, a date,
null, and "absent" (the key is left out)."""
NASTY = ['say "hi"', "back\\slash", "it's", 'a" or id != "', "x\ty", '\\"', "plain", "ünï😀", "[1, 2]"]


@dataclass
class Corpus:
    """Documents row-aligned with their dense and sparse vectors."""

    documents: list[Document]
    dense: np.ndarray
    sparse: list[SparseVector]

    def batch(self, rows: Optional[Sequence[int]] = None) -> IndexBatch:
        rows = range(len(self.documents)) if rows is None else rows
        return IndexBatch(
            documents=[self.documents[i] for i in rows],
            dense=self.dense[list(rows)],
            sparse={"sparse": [self.sparse[i] for i in rows]},
        )

    def ids(self) -> list[str]:
        return [d.id for d in self.documents]


def spec(name: str, dim: int = 32, metric: Metric = Metric.IP, **kw: Any) -> CollectionSpec:
    return CollectionSpec(name=name, dense_dim=dim, metric=metric, filterable=dict(FILTERABLE), **kw)


def random_sparse(rng: np.random.Generator, vocab: int, low: int = 3, high: int = 12) -> SparseVector:
    nnz = int(rng.integers(low, high))
    return SparseVector(indices=rng.choice(vocab, nnz, replace=False), values=rng.random(nnz) + 0.01)


def make_corpus(n: int, dim: int = 32, seed: int = 0, vocab: int = 300, normalize: bool = True) -> Corpus:
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal((n, dim)).astype(np.float32)
    if normalize:
        dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    docs = [
        Document(
            id=f"doc-{i}",
            text=f"text {i}",
            metadata={
                "genre": NASTY[i % len(NASTY)],
                "year": 1990 + i % 30,
                "price": round(float(rng.random() * 100), 3),
                "flag": bool(i % 3 == 0),
                "tags": ["a", "b"] if i % 2 else [],
                **({} if WHEN[i % len(WHEN)] == "absent" else {"when": WHEN[i % len(WHEN)]}),
            },
        )
        for i in range(n)
    ]
    return Corpus(docs, dense, [random_sparse(rng, vocab) for _ in range(n)])


# ---- ground truth -------------------------------------------------------------------------
def dense_exact(metric: Metric, matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Exact scores in float64 (IP, cosine, or squared L2 distance)."""
    m, q = matrix.astype(np.float64), query.astype(np.float64)
    if metric is Metric.IP:
        return m @ q
    if metric is Metric.COSINE:
        return (m @ q) / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))
    return ((m - q) ** 2).sum(axis=1)


def sparse_exact(vectors: Sequence[SparseVector], query: SparseVector) -> np.ndarray:
    return np.array([query.dot(v) for v in vectors])


def ranking(ids: Sequence[str], scores: np.ndarray, higher_is_better: bool = True) -> list[tuple[str, float]]:
    """(id, score) best first; ties broken by id."""
    pairs = list(zip(ids, scores.tolist(), strict=True))
    return sorted(pairs, key=lambda p: ((-p[1] if higher_is_better else p[1]), p[0]))


def rrf(rankings: Sequence[Sequence[str]], k: float) -> dict[str, float]:
    """Client-side RRF: sum of 1 / (k + rank), 1-based ranks."""
    fused: dict[str, float] = {}
    for ranked in rankings:
        for rank, doc_id in enumerate(ranked, start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + 1.0 / (k + rank)
    return fused


def assert_topk(
    hits: Sequence[Hit], truth: dict[str, float], k: int, higher_is_better: bool = True, tol: float = 1e-4
) -> None:
    """``hits`` are a correct top-``k`` of ``truth`` (id -> expected score), allowing ties in any order.

    Checks: the number of hits, no duplicates, each hit's score equals its true score within ``tol``,
    hits come best first, and every hit is at least as good as the true k-th best (up to ``tol``).
    """
    sign = 1.0 if higher_is_better else -1.0
    expected = sorted(truth.values(), key=lambda s: -sign * s)[:k]
    assert len(hits) == len(expected), f"expected {len(expected)} hits, got {len(hits)}"
    ids = [h.id for h in hits]
    assert len(set(ids)) == len(ids), f"duplicate ids in hits: {ids}"
    for hit in hits:
        assert hit.id in truth, f"hit {hit.id!r} is not an eligible document"
        assert abs(hit.score - truth[hit.id]) <= tol * max(1.0, abs(truth[hit.id])), (
            f"hit {hit.id!r}: score {hit.score} != exact {truth[hit.id]}"
        )
    got = [sign * h.score for h in hits]
    assert all(a >= b - tol for a, b in zip(got, got[1:], strict=False)), f"hits not sorted best first: {got}"
    if expected:
        kth = sign * expected[-1]
        assert all(sign * truth[i] >= kth - tol for i in ids), "a hit scores below the true k-th best"
    assert np.allclose(sorted(got, reverse=True), [sign * s for s in expected], atol=tol, rtol=tol)


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def assert_no_near_ties(order: Sequence[tuple[str, float]], depth: int, tol: float) -> None:
    """Precondition of rank-based truths (RRF): the first ``depth`` ranks of ``order`` (and the
    boundary to rank ``depth + 1``) are unambiguous, i.e. adjacent scores differ by more than ``tol``.
    Within ``tol`` a backend may order two documents either way, which would change fused scores;
    fix the data (seed) rather than loosen the check."""
    head = list(order[: depth + 1])
    for (id_a, a), (id_b, b) in zip(head, head[1:], strict=False):
        assert not _close(a, b, tol), (
            f"near-tie in the truth ranking: {id_a}={a} vs {id_b}={b} (tol {tol}); change the seed"
        )


def tie_groups(scores: Sequence[float], tol: float) -> list[list[int]]:
    """Positions of a best-first score list grouped into runs of scores within ``tol`` of a neighbour."""
    groups: list[list[int]] = []
    for pos, score in enumerate(scores):
        if groups and _close(scores[groups[-1][-1]], score, tol):
            groups[-1].append(pos)
        else:
            groups.append([pos])
    return groups


def assert_same_ranking(a: Sequence[Hit], b: Sequence[Hit], tol: float, what: str = "") -> None:
    """Two top-k lists are the same ranking up to ties: same length, position-wise scores within
    ``tol``, and the same ids within every run of tied scores. The last run may differ in ids when
    it is cut by k (a tie across the cut can be resolved either way), but not in scores."""
    assert len(a) == len(b), f"{what}: {len(a)} vs {len(b)} hits"
    for pos, (x, y) in enumerate(zip(a, b, strict=True)):
        assert _close(x.score, y.score, tol), f"{what}: rank {pos + 1} score {x.id}={x.score} vs {y.id}={y.score}"
    groups = tie_groups([h.score for h in a], tol)
    for group in groups:
        ids_a, ids_b = {a[i].id for i in group}, {b[i].id for i in group}
        if group is groups[-1] and group[-1] == len(a) - 1 and len(group) > 1:
            continue
        assert ids_a == ids_b, (
            f"{what}: ranks {group[0] + 1}-{group[-1] + 1} differ: {sorted(ids_a)} vs {sorted(ids_b)}"
        )
