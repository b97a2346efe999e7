"""ElasticsearchConnector against the noida-db EMULATOR (not real Elasticsearch) by default, or
against a real cluster when VECBRIDGE_TEST_ES_URL is set."""

from __future__ import annotations

import numpy as np
import pytest

from tests.elasticsearch.data import make_batch, make_spec
from vecbridge.connectors.base import Connector
from vecbridge.connectors.elasticsearch import ElasticsearchConnector
from vecbridge.connectors.elasticsearch.bulk import bulk_index
from vecbridge.connectors.elasticsearch.mapping import truncate_to_9_bits
from vecbridge.schemas import (
    CollectionMismatchError,
    CollectionNotFoundError,
    DenseIndex,
    Document,
    IndexBatch,
    Metric,
    SparseVector,
    UnsupportedOperationError,
    WriteError,
    matches,
    parse_filter,
)


def test_is_a_connector(connector: ElasticsearchConnector) -> None:
    assert isinstance(connector, Connector)


def test_emulator_create_check_and_mismatch(connector: ElasticsearchConnector, index_name: str) -> None:
    spec = make_spec(index_name)
    assert not connector.has_collection(index_name)
    connector.ensure_collection(spec)
    assert connector.has_collection(index_name)
    connector.ensure_collection(spec)  # same spec again: fine
    other = ElasticsearchConnector(connector.config)  # fresh instance reads the mapping
    with pytest.raises(CollectionMismatchError, match=r"dense_dim: field 'dense' dims: index has 16, spec wants 32"):
        other.ensure_collection(make_spec(index_name, dim=32))
    with pytest.raises(
        CollectionMismatchError,
        match=r"metric: field 'dense' similarity: index has 'dot_product', spec wants 'l2_norm'",
    ):
        other.ensure_collection(make_spec(index_name, metric=Metric.L2))
    with pytest.raises(
        CollectionMismatchError,
        match=r"dense_index: field 'dense' index_options.type: index has 'flat', spec wants 'int8_hnsw'",
    ):
        other.ensure_collection(make_spec(index_name, dense_index=DenseIndex.INT8_HNSW))
    renamed = spec.model_copy(update={"sparse_fields": ("sparse",)})
    with pytest.raises(CollectionMismatchError, match=r"sparse_fields: index has field 'sparse2'"):
        other.ensure_collection(renamed)
    assert other.spec(index_name) == spec  # recovered from _meta
    other.close()


def test_emulator_missing_collection_errors(connector: ElasticsearchConnector) -> None:
    with pytest.raises(CollectionNotFoundError, match="nope_missing"):
        connector.count("nope_missing")
    with pytest.raises(CollectionNotFoundError):
        connector.search_dense("nope_missing", np.ones(16, np.float32), 3)


def test_emulator_upsert_get_count_delete(connector: ElasticsearchConnector, index_name: str) -> None:
    connector.ensure_collection(make_spec(index_name))
    batch = make_batch(60)
    assert connector.upsert(index_name, batch) == 60
    assert connector.count(index_name) == 60  # visible to the next read
    assert connector.upsert(index_name, batch) == 60  # idempotent by id
    assert connector.count(index_name) == 60
    replaced = IndexBatch(
        documents=[Document(id="d0001", text="replaced", metadata={"year": 1})],
        dense=batch.dense[1:2],
        sparse={"sparse": batch.sparse["sparse"][1:2]},
    )
    connector.upsert(index_name, replaced)
    got = connector.get(index_name, ["d0003", "missing", "d0001"])
    assert [d.id for d in got] == ["d0003", "d0001"]
    assert got[0] == batch.documents[3] and got[1].text == "replaced" and got[1].metadata == {"year": 1}
    flt = parse_filter({"key": "lang", "op": "==", "value": "de"})
    current = [d for d in batch.documents if d.id != "d0001"] + list(replaced.documents)
    matching = {d.id for d in current if matches(flt, d.metadata)}
    assert connector.count(index_name, flt) == len(matching)
    deleted = connector.delete(index_name, ids=["d0002", "d0001", "zzz"], filter=flt)
    assert deleted == len(matching | {"d0002", "d0001"})
    assert connector.count(index_name) == 60 - deleted
    assert connector.count(index_name, flt) == 0


@pytest.mark.parametrize("metric", [Metric.IP, Metric.COSINE, Metric.L2])
def test_emulator_dense_scores_match_numpy(connector: ElasticsearchConnector, index_name: str, metric: Metric) -> None:
    """Exact (flat) knn: same top-10 and raw scores as numpy, filter applied inside knn."""
    connector.ensure_collection(make_spec(index_name, metric=metric))
    batch = make_batch(120)
    connector.upsert(index_name, batch)
    query = np.random.default_rng(5).normal(size=16).astype(np.float32)
    query *= 2.5 / np.linalg.norm(query)  # not unit length: dot_product queries are normalized and rescaled
    flt = parse_filter({"any": [{"key": "year", "op": ">=", "value": 2005}, {"key": "ok", "op": "==", "value": True}]})
    keep = np.array([matches(flt, d.metadata) for d in batch.documents])
    if metric is Metric.L2:
        raw = ((batch.dense - query) ** 2).sum(axis=1)  # squared distance, as Milvus reports
        order = np.argsort(raw)
    else:
        raw = batch.dense @ query if metric is Metric.IP else batch.dense @ query / 2.5
        order = np.argsort(-raw)
    order = [i for i in order if keep[i]][:10]
    hits = connector.search_dense(index_name, query, 10, filter=flt)
    assert [h.id for h in hits] == [batch.documents[i].id for i in order]
    np.testing.assert_allclose([h.score for h in hits], raw[order], atol=1e-5)
    assert hits[0].text == batch.documents[order[0]].text


def test_emulator_sparse_scores_are_inner_product_with_9_bit_storage(
    connector: ElasticsearchConnector, index_name: str
) -> None:
    """rank_feature linear + boost = query weight gives the sparse inner product of the query with
    the STORED weights, which ES truncates to 9 significant bits (<= 0.4 % below the exact value)."""
    connector.ensure_collection(make_spec(index_name))
    batch = make_batch(120)
    connector.upsert(index_name, batch)
    query = SparseVector(indices=[1, 5, 7, 11, 20, 33, 64, 90], values=[0.3, 1.7, 2.2, 0.05, 0.9, 1.1, 0.4, 2.5])
    flt = parse_filter({"not": {"key": "lang", "op": "==", "value": "en"}})

    def dot(doc_vec: SparseVector, truncate: bool) -> float:
        values = truncate_to_9_bits(doc_vec.values) if truncate else doc_vec.values
        return query.dot(SparseVector(indices=doc_vec.indices, values=values))

    stored = np.array([dot(v, True) for v in batch.sparse["sparse"]])
    exact = np.array([dot(v, False) for v in batch.sparse["sparse"]])
    keep = np.array([matches(flt, d.metadata) for d in batch.documents]) & (stored > 0)
    hits = connector.search_sparse(index_name, query, 15, filter=flt)
    ids = [h.id for h in hits]
    rows = [int(i[1:]) for i in ids]
    np.testing.assert_allclose([h.score for h in hits], stored[rows], rtol=1e-6)
    assert all(keep[r] for r in rows) and len(hits) == min(15, int(keep.sum()))
    assert min(h.score for h in hits) >= np.sort(stored[keep])[::-1][len(hits) - 1] - 1e-6
    rel = (exact[rows] - stored[rows]) / exact[rows]
    assert np.all(rel >= 0) and np.all(rel < 2.0**-8 + 1e-7)  # truncation: never up, at most 2^-8 down
    assert np.any(rel > 1e-4)  # and it is visible: scores differ from float32 inner products
    other = connector.search_sparse(index_name, SparseVector(indices=[3], values=[1.0]), 5, field="sparse2")
    assert all(3 in batch.sparse["sparse2"][int(h.id[1:])].indices for h in other)


def test_emulator_bm25_match(connector: ElasticsearchConnector, index_name: str) -> None:
    """BM25 as ES computes it (LegacyBM25Similarity, k1=1.2, b=0.75):
    idf * (k1 + 1) * tf / (tf + k1 * (1 - b + b * dl / avgdl)); short docs, so Lucene's norm encoding is exact."""
    connector.ensure_collection(make_spec(index_name))
    texts = ["red apple", "green apple apple pie", "red red red car", "blue car", "apple"]
    batch = IndexBatch(
        documents=[Document(id=f"t{i}", text=t, metadata={"year": 2000 + i}) for i, t in enumerate(texts)]
    )
    connector.upsert(index_name, batch)
    tokens = [t.split() for t in texts]
    avgdl = sum(map(len, tokens)) / len(tokens)

    def bm25(query: str, doc: list[str]) -> float:
        score = 0.0
        for term in query.split():
            df = sum(term in t for t in tokens)
            tf = doc.count(term)
            if tf:
                idf = np.log(1 + (len(tokens) - df + 0.5) / (df + 0.5))
                score += idf * 2.2 * tf / (tf + 1.2 * (1 - 0.75 + 0.75 * len(doc) / avgdl))
        return score

    hits = connector.search_text(index_name, "red apple", 10)
    expected = sorted(
        ((bm25("red apple", t), f"t{i}") for i, t in enumerate(tokens) if bm25("red apple", t) > 0), reverse=True
    )
    assert [h.id for h in hits] == [i for _, i in expected]
    np.testing.assert_allclose([h.score for h in hits], [s for s, _ in expected], rtol=1e-5)
    filtered = connector.search_text(
        index_name, "apple", 10, filter=parse_filter({"key": "year", "op": ">", "value": 2001})
    )
    assert [h.id for h in filtered] == ["t4"]


def test_emulator_bulk_reports_exactly_the_bad_documents(connector: ElasticsearchConnector, index_name: str) -> None:
    """Documents the server would reject or coerce (long out of range, wrong type or a list in a
    filterable key, non-unit vector for dot_product) fail with their ids; the rest is written."""
    connector.ensure_collection(make_spec(index_name))
    batch = make_batch(40)
    docs = list(batch.documents)
    dense = batch.dense.copy()
    docs[3] = Document(id=docs[3].id, text="x", metadata={"year": 2**70})  # real ES: out of range for long
    docs[17] = Document(id=docs[17].id, text="x", metadata={"year": 2**63})  # real ES too (the emulator accepts it)
    docs[5] = Document(id=docs[5].id, text="x", metadata={"year": "2001"})  # ES would coerce it to 2001
    docs[8] = Document(id=docs[8].id, text="x", metadata={"lang": ["en", "de"]})  # list in a filterable key
    dense[11] *= 3.0  # real ES rejects non-unit vectors for dot_product
    bad = IndexBatch(documents=docs, dense=dense, sparse=batch.sparse)
    with pytest.raises(WriteError) as info:
        connector.upsert(index_name, bad)
    assert set(info.value.failed) == {"d0003", "d0017", "d0005", "d0008", "d0011"}
    assert "64-bit" in info.value.failed["d0003"] and "unit-length" in info.value.failed["d0011"]
    assert connector.count(index_name) == 35
    assert connector.get(index_name, ["d0003", "d0004"])[0].id == "d0004"


def test_emulator_bulk_layer_reports_server_mapping_conflicts(
    connector: ElasticsearchConnector, index_name: str
) -> None:
    """Raw sources past the client checks: the server's per-item errors come back by id, only
    for the conflicting documents, with the server's reason."""
    connector.ensure_collection(make_spec(index_name))
    good = {f"g{i}": {"id": f"g{i}", "text": "ok", "metadata": {"year": i}} for i in range(25)}
    bad = {
        "b_double": {"id": "b_double", "text": "x", "metadata": {"score": "abc"}},
        "b_bool": {"id": "b_bool", "text": "x", "metadata": {"ok": "maybe"}},
        "b_feature": {"id": "b_feature", "text": "x", "sparse": {"1": 0.0}},
        "b_unknown": {"id": "b_unknown", "text": "x", "extra_field": 1},  # dynamic: strict
        "b_dims": {"id": "b_dims", "text": "x", "dense": [0.5, 0.5]},
    }
    sources = {**dict(list(good.items())[:10]), **bad, **dict(list(good.items())[10:])}
    failed = bulk_index(
        connector.client,
        index_name,
        sources,
        chunk_size=7,
        refresh="true",
        max_attempts=3,
        initial_backoff=0,
        max_backoff=0,
    )
    assert set(failed) == set(bad)
    assert "double" in failed["b_double"] and failed["b_double"].startswith("400 ")
    assert "positive normal float" in failed["b_feature"] and "strict" in failed["b_unknown"]
    assert connector.count(index_name) == 25


def test_emulator_native_hybrid_auto_is_unsupported(
    connector: ElasticsearchConnector, index_name: str, on_emulator: bool
) -> None:
    """The emulator's licence API fails (400): licence unknown -> UnsupportedOperationError."""
    if not on_emulator:
        pytest.skip("licence-dependent; covered by the integration tests on a real server")
    connector.ensure_collection(make_spec(index_name))
    with pytest.raises(UnsupportedOperationError, match="server-side RRF unavailable"):
        connector.search_hybrid_native(index_name, np.ones(16, np.float32) / 4, {}, 5)
    assert connector.licence_allows_rrf() is False


def client_rrf(lists: list[list[str]], k: int, rrf_k: float) -> list[tuple[str, float]]:
    """Reference RRF: score = sum 1 / (rrf_k + rank), ranks 1-based; ties broken by id."""
    scores: dict[str, float] = {}
    for ranked in lists:
        for rank, doc_id in enumerate(ranked, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (rrf_k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]


def test_emulator_forced_rrf_retriever_equals_client_side_rrf(
    forced_native: ElasticsearchConnector, index_name: str
) -> None:
    """FORCE skips the licence check so the server-side rrf retriever runs on the emulator; its
    ranking and scores equal client-side RRF over the connector's own dense and sparse lists."""
    conn = forced_native
    conn.ensure_collection(make_spec(index_name))
    batch = make_batch(150)
    conn.upsert(index_name, batch)
    rng = np.random.default_rng(9)
    flt = parse_filter({"key": "lang", "op": "!=", "value": "zh"})
    for _trial in range(3):
        dense = rng.normal(size=16).astype(np.float32)
        sparse = {"sparse": SparseVector(indices=rng.choice(120, 12, replace=False), values=rng.uniform(0.1, 2, 12))}
        window, k, rrf_k = 30, 10, 60
        lists = [
            [h.id for h in conn.search_dense(index_name, dense, window, filter=flt)],
            [h.id for h in conn.search_sparse(index_name, sparse["sparse"], window, filter=flt)],
        ]
        expected = client_rrf(lists, k, rrf_k)
        hits = conn.search_hybrid_native(index_name, dense, sparse, k, filter=flt, rrf_k=rrf_k, window=window)
        np.testing.assert_allclose([h.score for h in hits], [s for _, s in expected], rtol=1e-6)
        got = {h.id: h.score for h in hits}
        for doc_id, score in expected:  # same ids; order may differ only within exact ties
            if doc_id in got:
                assert got[doc_id] == pytest.approx(score, rel=1e-6)
        boundary = expected[-1][1]
        assert {i for i, s in expected if s > boundary + 1e-9} <= set(got)
        assert {h.id for h in hits if h.score > boundary + 1e-9} == {i for i, s in expected if s > boundary + 1e-9}
