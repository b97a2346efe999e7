"""Conformance: dense / sparse / native hybrid search against brute-force numpy ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge.schemas import Metric, UnsupportedOperationError
from vecbridge.testing.conformance.base import ConformanceBase
from vecbridge.testing.data import (
    assert_no_near_ties,
    assert_topk,
    dense_exact,
    make_corpus,
    random_sparse,
    ranking,
    rrf,
    spec,
)

N, DIM, K = 400, 32, 10


class SearchTests(ConformanceBase):
    """Dense, sparse and native hybrid search against brute-force numpy ground truth."""

    @pytest.mark.parametrize("metric", [Metric.IP, Metric.COSINE, Metric.L2])
    def test_dense_matches_brute_force(self, backend, connector, collection_name, metric):
        corpus = make_corpus(N, DIM, seed=1, normalize=metric is Metric.IP)
        connector.ensure_collection(spec(collection_name, DIM, metric))
        connector.upsert(collection_name, corpus.batch())
        rng = np.random.default_rng(7)
        for _ in range(5):
            query = rng.standard_normal(DIM).astype(np.float32)
            exact = dense_exact(metric, corpus.dense, query)
            truth = {i: backend.dense_score(metric, float(s)) for i, s in zip(corpus.ids(), exact, strict=True)}
            hits = connector.search_dense(collection_name, query, K)
            assert_topk(hits, truth, K, higher_is_better=metric is not Metric.L2)
            assert hits[0].text == f"text {hits[0].id.split('-')[1]}"

    def test_sparse_matches_brute_force(self, backend, connector, collection_name):
        corpus = make_corpus(N, DIM, seed=2, vocab=200)
        connector.ensure_collection(spec(collection_name, DIM))
        connector.upsert(collection_name, corpus.batch())
        rng = np.random.default_rng(8)
        for _ in range(5):
            query = random_sparse(rng, 200, 10, 30)
            expected = backend.sparse_scores(corpus.sparse, query)
            truth = {i: float(s) for i, s in zip(corpus.ids(), expected, strict=True) if s > 0}
            hits = connector.search_sparse(collection_name, query, K, field="sparse")
            assert_topk(hits, truth, K, tol=backend.sparse_tol)

    def test_hybrid_native_equals_client_rrf(self, backend, connector, collection_name):
        corpus = make_corpus(N, DIM, seed=3, vocab=200)
        connector.ensure_collection(spec(collection_name, DIM))
        connector.upsert(collection_name, corpus.batch())
        rng = np.random.default_rng(9)
        dense_q = rng.standard_normal(DIM).astype(np.float32)
        sparse_q = random_sparse(rng, 200, 10, 30)
        if not backend.hybrid_native(connector):
            with pytest.raises(UnsupportedOperationError):
                connector.search_hybrid_native(collection_name, dense_q, {"sparse": sparse_q}, K)
            return
        window, rrf_k = 40, 60
        dense_order = ranking(corpus.ids(), dense_exact(Metric.IP, corpus.dense, dense_q))
        assert_no_near_ties(dense_order, window, 1e-5)
        dense_rank = [i for i, _ in dense_order[:window]]
        sparse_scores = backend.sparse_scores(corpus.sparse, sparse_q)
        sparse_order = ranking(corpus.ids(), sparse_scores)
        assert_no_near_ties(sparse_order, window, backend.sparse_tol)
        sparse_rank = [i for i, s in sparse_order[:window] if s > 0]
        truth = rrf([dense_rank, sparse_rank], rrf_k)
        hits = connector.search_hybrid_native(
            collection_name, dense_q, {"sparse": sparse_q}, K, rrf_k=rrf_k, window=window
        )
        assert_topk(hits, truth, K, tol=1e-6)
