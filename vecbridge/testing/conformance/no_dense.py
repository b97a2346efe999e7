"""Conformance: documents stored without a dense vector (``IndexBatch.dense_present``) are counted,
read back (``get``/``iterate`` with vectors: ``dense`` None), found by sparse search and filters,
and never returned by dense search (also under COSINE,
where a placeholder zero vector would have no direction)."""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge.schemas import IndexBatch, Metric, SparseVector, UnsupportedOperationError
from vecbridge.testing.conformance.base import ConformanceBase
from vecbridge.testing.data import assert_topk, dense_exact, make_corpus, spec

N, DIM, K = 60, 16, 10


def _masked_batch(corpus, present):
    return IndexBatch(
        documents=corpus.documents, dense=corpus.dense, sparse={"sparse": corpus.sparse}, dense_present=present
    )


class NoDenseTests(ConformanceBase):
    """Documents stored without a dense vector."""

    @pytest.mark.parametrize("metric", [Metric.COSINE, Metric.IP])
    def test_documents_without_dense_vector(self, backend, connector, collection_name, metric):
        corpus = make_corpus(N, DIM, seed=11, vocab=50)
        present = [i % 3 != 0 for i in range(N)]  # every third document has no dense vector
        connector.ensure_collection(spec(collection_name, DIM, metric))
        assert connector.upsert(collection_name, _masked_batch(corpus, present)) == N
        assert connector.count(collection_name) == N
        ids = corpus.ids()
        assert [d.id for d in connector.get(collection_name, ids)] == ids

        with_vector = [i for i in range(N) if present[i]]
        rng = np.random.default_rng(5)
        for _ in range(3):
            query = rng.standard_normal(DIM).astype(np.float32)
            exact = dense_exact(metric, corpus.dense[with_vector], query)
            truth = {ids[i]: backend.dense_score(metric, float(s)) for i, s in zip(with_vector, exact, strict=True)}
            assert_topk(connector.search_dense(collection_name, query, K), truth, K)
            everything = connector.search_dense(collection_name, query, N)
            assert {h.id for h in everything} == set(truth)  # none of the vector-less documents

        stored = {d.id: d for d in connector.get(collection_name, ids, with_vectors=True)}
        assert [i for i in ids if stored[i].dense is None] == [ids[i] for i in range(N) if not present[i]]
        assert np.allclose(stored[ids[1]].dense, corpus.dense[1], atol=1e-6)
        iterated = {d.id: d.dense is None for batch in connector.iterate(collection_name, None, 7, True) for d in batch}
        assert iterated == {i: stored[i].dense is None for i in ids}

        missing = ids[0]  # no dense vector, but its sparse vector and text are searchable
        hits = connector.search_sparse(collection_name, corpus.sparse[0], N, field="sparse")
        assert missing in {h.id for h in hits}

    def test_native_hybrid_skips_missing_dense(self, backend, connector, collection_name):
        corpus = make_corpus(N, DIM, seed=12, vocab=50)
        present = [i % 2 == 0 for i in range(N)]
        connector.ensure_collection(spec(collection_name, DIM, Metric.COSINE))
        connector.upsert(collection_name, _masked_batch(corpus, present))
        query = np.ones(DIM, dtype=np.float32)
        empty_sparse = SparseVector(indices=[], values=[])
        try:
            hits = connector.search_hybrid_native(collection_name, query, {"sparse": empty_sparse}, N, window=N)
        except UnsupportedOperationError:
            pytest.skip(f"{backend.name}: no native hybrid search")
        assert hits and all(present[int(h.id.split("-")[1])] for h in hits)

    def test_rewriting_a_document_with_its_vector_makes_it_searchable(self, backend, connector, collection_name):
        corpus = make_corpus(4, DIM, seed=13, vocab=50)
        connector.ensure_collection(spec(collection_name, DIM, Metric.COSINE))
        connector.upsert(collection_name, _masked_batch(corpus, [False] * 4))
        assert connector.search_dense(collection_name, corpus.dense[0], 4) == []
        connector.upsert(collection_name, corpus.batch([0]))
        assert [h.id for h in connector.search_dense(collection_name, corpus.dense[0], 4)] == ["doc-0"]
