"""Conformance of the facade's store features on every backend: ``search_by_vector``,
``Hit.relevance``, ``get(with_vectors)``, ``iterate``, ``delete_all``, on ``HybridIndex`` and (where the
connector under test is the ``BlockingConnector`` of an ``AsyncConnector``) on ``AsyncHybridIndex``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vecbridge import HybridIndex
from vecbridge.async_index import AsyncHybridIndex
from vecbridge.connectors.adapters import BlockingConnector
from vecbridge.encoders import OutputKind
from vecbridge.index import Retriever, RetrieverKind
from vecbridge.schemas import InvalidInputError, Metric, StoredDocument, VecbridgeError
from vecbridge.testing.conformance.base import ConformanceBase
from vecbridge.testing.data import dense_exact, make_corpus, random_sparse, ranking, spec

DIM, K = 32, 10


class VectorsOnly:
    """Stands in for the encoder of vectors the test writes itself (the index never encodes here)."""

    name = "vectors-only"
    outputs = frozenset({OutputKind.DENSE, OutputKind.SPARSE})
    dense_dim = DIM
    sparse_vocab_size = None

    def __init__(self, normalize: bool = True) -> None:
        self.normalize = normalize

    def encode_documents(self, texts):  # pragma: no cover - never called
        raise AssertionError("not used")

    encode_queries = encode_documents


class Facade:
    """The same calls on ``HybridIndex`` or ``AsyncHybridIndex`` (awaited on the connector's loop)."""

    def __init__(self, connector, spec_, normalize: bool, use_async: bool) -> None:
        encoder = VectorsOnly(normalize)
        retrievers = [
            Retriever("dense", encoder, RetrieverKind.DENSE, "dense"),
            Retriever("sparse", encoder, RetrieverKind.SPARSE, "sparse"),
        ]
        self.use_async = use_async
        self.connector = connector
        if use_async:
            self.index = connector.run(AsyncHybridIndex.open(connector.wrapped, spec_, retrievers))
        else:
            self.index = HybridIndex(connector, spec_, retrievers)

    def __getattr__(self, name):
        method = getattr(self.index, name)
        if not self.use_async:
            return method
        if name == "iterate":

            def iterate(*args, **kwargs):
                agen = method(*args, **kwargs)

                async def collect():
                    return [doc async for doc in agen]

                return iter(self.connector.run(collect()))

            return iterate
        return lambda *args, **kwargs: self.connector.run(method(*args, **kwargs))


def _facade(connector, name, metric=Metric.IP, normalize=True, flavour="sync"):
    s = spec(name, DIM, metric)
    connector.ensure_collection(s)
    return Facade(connector, s, normalize, flavour == "async")


class IndexStoreTests(ConformanceBase):
    """The facade's store features on the connector: search_by_vector, relevance, get, iterate, delete_all."""

    @pytest.fixture(params=["sync", "async"])
    def flavour(self, request, connector):
        if request.param == "async" and not isinstance(connector, BlockingConnector):
            pytest.skip("AsyncHybridIndex runs on async connectors (tested through BlockingConnector)")
        return request.param

    @pytest.mark.parametrize("metric", [Metric.IP, Metric.COSINE, Metric.L2])
    def test_search_by_vector_dense_ranks_and_relevance(self, backend, connector, collection_name, flavour, metric):
        corpus = make_corpus(300, DIM, seed=11, normalize=metric is not Metric.L2)
        index = _facade(connector, collection_name, metric, flavour=flavour)
        connector.upsert(collection_name, corpus.batch())
        rng = np.random.default_rng(3)
        query = rng.standard_normal(DIM).astype(np.float32)
        query /= np.linalg.norm(query)
        exact = dense_exact(metric, corpus.dense, query)
        truth = ranking(corpus.ids(), exact, higher_is_better=metric is not Metric.L2)
        hits = index.search_by_vector(query.tolist(), k=K)
        assert [h.id for h in hits] == [i for i, _ in truth[:K]]
        for hit, (_, score) in zip(hits, truth, strict=False):
            want = 1 / (1 + math.sqrt(score)) if metric is Metric.L2 else (1 + score) / 2
            assert hit.relevance == pytest.approx(want, abs=1e-4) and 0 <= hit.relevance <= 1
            assert hit.ranks == {"dense": hits.index(hit) + 1} and hit.retrievers == ["dense"]
        relevance = [h.relevance for h in hits]
        assert relevance == sorted(relevance, reverse=True)

    def test_relevance_is_none_where_the_metric_gives_no_bound(self, backend, connector, collection_name, flavour):
        corpus = make_corpus(60, DIM, seed=12)
        index = _facade(connector, collection_name, Metric.IP, normalize=False, flavour=flavour)
        connector.upsert(collection_name, corpus.batch())
        query = corpus.dense[4] * 3.0  # IP of an unnormalized encoder: unbounded
        assert all(h.relevance is None for h in index.search_by_vector(query.tolist(), k=5))
        normalized = _facade(connector, collection_name, Metric.IP, normalize=True, flavour=flavour)
        assert all(h.relevance is None for h in normalized.search_by_vector((corpus.dense[4] * 3.0).tolist(), k=5))
        top = normalized.search_by_vector(corpus.dense[4].tolist(), k=1)[0]
        assert top.id == "doc-4" and top.relevance == pytest.approx(1.0, abs=1e-4)

    def test_search_by_vector_sparse(self, backend, connector, collection_name, flavour):
        corpus = make_corpus(200, DIM, seed=13, vocab=100)
        index = _facade(connector, collection_name, flavour=flavour)
        connector.upsert(collection_name, corpus.batch())
        query = random_sparse(np.random.default_rng(5), 100, 10, 20)
        scores = backend.sparse_scores(corpus.sparse, query)
        hits = index.search_by_vector(query, k=K, retriever="sparse", filter={"key": "year", "op": ">=", "value": 2000})
        eligible = [
            (d.id, s) for d, s in zip(corpus.documents, scores, strict=True) if s > 0 and d.metadata["year"] >= 2000
        ]
        want = sorted(eligible, key=lambda p: (-p[1], p[0]))[:K]
        assert [h.id for h in hits] == [i for i, _ in want]
        assert all(h.relevance is None and h.retrievers == ["sparse"] for h in hits)
        as_dict = index.search_by_vector(
            query.to_dict(), k=K, retriever="sparse", filter={"key": "year", "op": ">=", "value": 2000}
        )
        assert [h.id for h in as_dict] == [h.id for h in hits]

    def test_search_by_vector_bad_input_names_the_problem(self, backend, connector, collection_name, flavour):
        index = _facade(connector, collection_name, flavour=flavour)
        with pytest.raises(InvalidInputError, match=r"'dense'.*expects dim 32, got 3") as info:
            index.search_by_vector([0.1, 0.2, 0.3])
        assert isinstance(info.value, ValueError) and isinstance(info.value, VecbridgeError)
        with pytest.raises(InvalidInputError, match="k=0"):
            index.search_by_vector([0.0] * DIM, k=0)
        with pytest.raises(InvalidInputError, match="retriever='text'"):
            index.search_by_vector([0.0] * DIM, retriever="text")
        with pytest.raises(InvalidInputError, match="needs a SparseVector"):
            index.search_by_vector([0.0] * DIM, retriever="sparse")
        with pytest.raises(InvalidInputError, match="non-finite"):
            index.search_by_vector([float("nan")] * DIM)

    def test_get_iterate_delete_all_through_the_index(self, backend, connector, collection_name, flavour):
        corpus = make_corpus(650, DIM, seed=14)
        index = _facade(connector, collection_name, flavour=flavour)
        connector.write_state(collection_name, {"kept": True})
        connector.upsert(collection_name, corpus.batch())
        docs = index.get(["doc-9", "nope", "doc-2"], with_vectors=True)
        assert [d.id for d in docs] == ["doc-9", "doc-2"] and all(isinstance(d, StoredDocument) for d in docs)
        np.testing.assert_allclose(docs[0].dense, corpus.dense[9], rtol=1e-6, atol=1e-7)
        with pytest.raises(InvalidInputError, match="not one string"):
            index.get("doc-9")
        ids = [d.id for d in index.iterate(batch_size=100)]
        assert sorted(ids) == sorted(corpus.ids())
        flt = {"key": "flag", "op": "==", "value": True}
        assert sorted(d.id for d in index.iterate(filter=flt, batch_size=70)) == sorted(
            d.id for d in corpus.documents if d.metadata["flag"]
        )
        with pytest.raises(InvalidInputError, match="batch_size=0"):
            index.iterate(batch_size=0)
        assert index.delete_all() == 650
        assert index.count() == 0 and connector.has_collection(collection_name)
        assert connector.read_state(collection_name) == {"kept": True}
        assert list(index.iterate()) == []

    def test_ef_is_harmless_on_exact_indexes(self, backend, connector, collection_name, flavour):
        corpus = make_corpus(200, DIM, seed=15)
        index = _facade(connector, collection_name, flavour=flavour)
        connector.upsert(collection_name, corpus.batch())
        query = corpus.dense[17].tolist()
        plain = index.search_by_vector(query, k=K)
        assert [h.id for h in index.search_by_vector(query, k=K, ef=3)] == [h.id for h in plain]
        assert [h.id for h in index.search_by_vector(query, k=K, ef=500)] == [h.id for h in plain]
        with pytest.raises(InvalidInputError, match="ef=0"):
            index.search_by_vector(query, k=K, ef=0)

    def test_hnsw_spec_creates_and_reopens(self, backend, connector_factory, collection_name):
        from vecbridge.schemas import DenseIndex

        hnsw = spec(collection_name, DIM, dense_index=DenseIndex.HNSW, hnsw_m=24, hnsw_ef_construction=128)
        connector = connector_factory()
        connector.ensure_collection(hnsw)
        corpus = make_corpus(100, DIM, seed=16)
        connector.upsert(collection_name, corpus.batch())
        connector.close()
        again = connector_factory()
        again.ensure_collection(hnsw)  # same parameters: no mismatch
        hits = again.search_dense(collection_name, corpus.dense[5], K, ef=64)
        assert len(hits) == K and hits[0].id == "doc-5"
