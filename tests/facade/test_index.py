"""The unified query API on a brute-force in-memory connector (backend-independent behaviour)."""

import numpy as np
import pytest

from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from vecbridge.fusion import rrf
from vecbridge.index import HybridIndex
from vecbridge.schemas import ConfigurationError, Document, FilterError, UnsupportedOperationError, WriteError

DOCS = [
    Document(id="d1", text="milvus stores dense vectors", metadata={"lang": "en", "year": 2021}),
    Document(id="d2", text="elasticsearch ranks text with bm25", metadata={"lang": "en", "year": 2019}),
    Document(id="d3", text="sparse vectors and dense vectors fused with rrf", metadata={"lang": "en", "year": 2023}),
    Document(id="d4", text="向量 数据库 检索", metadata={"lang": "zh", "year": 2023}),
]


@pytest.fixture()
def index():
    encoder = BagOfWordsEncoder()
    idx = HybridIndex.create(
        InMemoryConnector(),
        "docs",
        dense=encoder,
        sparse=encoder,
        filterable={"lang": "string", "year": "int"},
        batch_size=3,
    )
    report = idx.upsert(DOCS)
    assert report.ok and report.written == 4
    return idx


def test_shared_encoder_runs_once_per_batch(index):
    encoder = index.retrievers["dense"].encoder
    before = encoder.calls
    index.upsert(DOCS)  # 2 batches of <= 3
    assert encoder.calls - before == 2
    assert index.count() == 4  # idempotent by id


def test_hybrid_equals_rrf_of_single_modes(index):
    k, window = 3, 50
    dense = index.search("dense vectors", k=window, mode="dense")
    sparse = index.search("dense vectors", k=window, mode="sparse")
    hybrid = index.search("dense vectors", k=k, window=window)
    expected = rrf({"dense": dense, "sparse": sparse}, limit=k)
    assert [h.id for h in hybrid] == [h.id for h in expected]
    assert [h.score for h in hybrid] == pytest.approx([h.score for h in expected])
    assert set(hybrid[0].ranks) == {"dense", "sparse"}
    assert dense[0].ranks == {"dense": 1}


def test_filters_are_validated_and_applied(index):
    hits = index.search("vectors", k=10, filter={"key": "year", "op": ">=", "value": 2022})
    assert {h.id for h in hits} <= {"d3", "d4"}
    assert index.count({"key": "lang", "op": "==", "value": "zh"}) == 1
    with pytest.raises(FilterError, match="undeclared key 'color' needs a number"):
        index.search("x", filter={"key": "color", "op": ">", "value": "red"})
    with pytest.raises(FilterError, match="not of type int"):
        index.search("x", filter={"key": "year", "op": "==", "value": "2021"})


def test_weights_zero_drops_retriever_and_mode_errors(index):
    hits = index.search("dense vectors", k=2, weights={"sparse": 0})
    assert all(set(h.ranks) == {"dense"} for h in hits)
    with pytest.raises(ConfigurationError, match="unknown retrievers"):
        index.search("x", retrievers=["bm25"])
    only_dense = HybridIndex.create(InMemoryConnector(), "d", dense=BagOfWordsEncoder())
    with pytest.raises(ConfigurationError, match="needs a sparse retriever"):
        only_dense.search("x", mode="sparse")


def test_native_fusion_unsupported_is_reported(index):
    with pytest.raises(UnsupportedOperationError):
        index.search("x", native=True)


def test_rerank_reorders_head_and_keeps_first_stage_ranks(index):
    class LengthReranker:
        def score(self, query, passages):
            return np.array([len(p) for p in passages], dtype=float)

    index.reranker = LengthReranker()
    hits = index.search("dense vectors", k=3, rerank_top_n=3)
    assert [len(h.text) for h in hits] == sorted((len(h.text) for h in hits), reverse=True)
    assert all({"rerank", "first_stage", "dense"} <= set(h.ranks) for h in hits)


def test_delete_get_and_batch_search(index):
    assert [d.id for d in index.get(["d4", "nope", "d1"])] == ["d4", "d1"]
    assert index.delete(ids=["d1"]) == 1
    assert index.delete(filter={"key": "lang", "op": "==", "value": "zh"}) == 1
    assert index.count() == 2
    results = index.search_batch(["bm25 text", "rrf"], k=1)
    assert [r[0].id for r in results] == ["d2", "d3"]


def test_failed_batches_are_reported_not_lost():
    class FlakyConnector(InMemoryConnector):
        def upsert(self, collection, batch):
            bad = {d.id: "rejected" for d in batch.documents if d.id == "d2"}
            if bad:
                super().upsert(collection, batch.slice(0, 0))
                raise WriteError("one failed", bad)
            return super().upsert(collection, batch)

    idx = HybridIndex.create(FlakyConnector(), "docs", dense=BagOfWordsEncoder(), batch_size=1)
    report = idx.upsert(DOCS)
    assert report.written == 3 and report.failed == {"d2": "rejected"} and not report.ok


def test_retriever_kinds_are_checked():
    from vecbridge import Retriever, RetrieverKind
    from vecbridge.encoders import OutputKind

    encoder = BagOfWordsEncoder()
    assert Retriever("d", encoder, OutputKind.DENSE, "dense").kind is RetrieverKind.DENSE
    with pytest.raises(ConfigurationError, match="takes no encoder"):
        Retriever("t", encoder, RetrieverKind.TEXT, "text")
    with pytest.raises(ConfigurationError, match="kind must be one of"):
        Retriever("c", encoder, OutputKind.COLBERT, "colbert")
    sparse_only = BagOfWordsEncoder()
    sparse_only.outputs = frozenset({OutputKind.SPARSE})
    with pytest.raises(ConfigurationError, match="has no dense output"):
        Retriever("d", sparse_only, RetrieverKind.DENSE, "dense")
    vector_only = Retriever("d", None, RetrieverKind.DENSE, "dense")  # vectors come with the documents
    assert not vector_only.takes_text and Retriever("d", encoder, OutputKind.DENSE, "dense").takes_text


def test_text_retriever_needs_a_store_with_text_search():
    idx = HybridIndex.create(InMemoryConnector(), "docs", dense=BagOfWordsEncoder(), text=True)
    idx.upsert(DOCS)
    assert [h.ranks for h in idx.search("dense vectors", k=2, mode="dense")] == [{"dense": 1}, {"dense": 2}]
    with pytest.raises(UnsupportedOperationError, match="no text search"):
        idx.search("dense vectors", k=2)
