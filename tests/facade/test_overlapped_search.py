"""A lone hybrid search with two encoders: each encoder encodes and searches on its own, so the sparse
search runs while the dense model still encodes (checked with an event that times out otherwise); hits
equal the encode-all-then-search path in every field, and failures come in retriever-name order."""

from __future__ import annotations

import threading

import pytest

from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from tests.facade.test_late_content import IdsOnlyConnector
from vecbridge import HybridIndex
from vecbridge.schemas import Document

WORDS = "vector database hybrid search sparse dense fusion rank milvus query text model index".split()
DOCS = [
    Document(
        id=f"d{i:03d}",
        text=" ".join(WORDS[(i * j) % len(WORDS)] for j in range(1, 4 + i % 5)),
        metadata={"year": 2000 + i % 7},
    )
    for i in range(60)
]
QUERIES = [" ".join(WORDS[(q + j) % len(WORDS)] for j in range(1 + q % 3)) for q in range(40)]


def _index(connector=None, dense=None, sparse=None, **kwargs) -> HybridIndex:
    index = HybridIndex.create(
        connector or InMemoryConnector(),
        "docs",
        dense=dense or BagOfWordsEncoder(),
        sparse=sparse or BagOfWordsEncoder(),
        filterable={"year": "int"},
        **kwargs,
    )
    assert index.upsert(DOCS).written == len(DOCS)
    return index


@pytest.mark.parametrize("store", [InMemoryConnector, IdsOnlyConnector])
def test_overlapped_search_equals_encoding_everything_first(store) -> None:
    fast, slow = _index(store()), _index(store(), concurrent=False)
    assert fast.late_content is slow.late_content is (store is IdsOnlyConnector)
    assert fast._overlaps(fast._plan(fast._requests(["x"], 5, "hybrid", None, 60.0, None, None, {})[0]))
    for kwargs in (
        {},
        {"filter": {"key": "year", "op": ">=", "value": 2003}},
        {"weights": {"dense": 2.0}},
        {"method": "linear"},
        {"explain": True},
        {"window": 7},
    ):
        for query in QUERIES:
            got = [h.model_dump() for h in fast.search(query, k=6, **kwargs)]
            assert got == [h.model_dump() for h in slow.search(query, k=6, **kwargs)], (query, kwargs)
    fast.close()


class WaitingDense(BagOfWordsEncoder):
    """Its query encoding ends only once the sparse search has started (``sparse_started``)."""

    def __init__(self, sparse_started: threading.Event) -> None:
        super().__init__()
        self.sparse_started = sparse_started

    def encode_queries(self, texts):
        assert self.sparse_started.wait(10), "the sparse search did not start while the dense encoder ran"
        return self._encode(texts)


class SignallingConnector(InMemoryConnector):
    def __init__(self) -> None:
        super().__init__()
        self.sparse_started = threading.Event()
        self.fail: set[str] = set()

    def search_sparse(self, *args, **kwargs):
        self.sparse_started.set()
        if "sparse" in self.fail:
            raise RuntimeError("sparse failed")
        return super().search_sparse(*args, **kwargs)


def test_the_sparse_search_runs_while_the_dense_model_encodes() -> None:
    connector = SignallingConnector()
    dense = WaitingDense(connector.sparse_started)
    index = _index(connector, dense=dense)
    reference = _index(dense=BagOfWordsEncoder(), concurrent=False)
    connector.sparse_started.clear()
    got = index.search(QUERIES[5], k=4)
    assert [h.model_dump() for h in got] == [h.model_dump() for h in reference.search(QUERIES[5], k=4)]
    index.close()


class FailingDense(BagOfWordsEncoder):
    def encode_queries(self, texts):
        raise RuntimeError("dense failed")


@pytest.mark.parametrize(("dense_fails", "sparse_fails", "raised"), [(True, True, "dense"), (False, True, "sparse")])
def test_failures_are_raised_in_retriever_order(dense_fails: bool, sparse_fails: bool, raised: str) -> None:
    connector = SignallingConnector()
    index = _index(connector)
    if dense_fails:
        index.retrievers["dense"] = index.retrievers["dense"].__class__(
            "dense", FailingDense(), index.retrievers["dense"].kind, "dense"
        )
    connector.fail = {"sparse"} if sparse_fails else set()
    with pytest.raises(RuntimeError, match=f"{raised} failed"):
        index.search(QUERIES[1], k=3)
    connector.fail = set()
    if not dense_fails:
        assert index.search(QUERIES[1], k=3)  # the pool is still usable
    index.close()


def test_one_shared_encoder_or_native_fusion_keep_the_batch_path() -> None:
    shared = BagOfWordsEncoder()
    index = _index(dense=shared, sparse=shared)
    request = index._plan(index._requests(["vector"], 3, "hybrid", None, 60.0, None, None, {})[0])
    assert not index._overlaps(request)  # one encoder: encoded once, nothing to overlap
    assert index.search("vector", k=3) and shared.calls == 2  # the upsert, then the query: once
    two = _index()
    native = two._plan(two._requests(["vector"], 3, "hybrid", None, 60.0, None, None, {"native": True})[0])
    assert not two._overlaps(native)
    assert not _index(concurrent=False)._overlaps(native.model_copy(update={"fusion": request.fusion}))


def test_while_one_search_overlaps_another_takes_the_batch_path() -> None:
    """The second of two concurrent searches finds the overlapped path taken and encodes, then searches."""
    connector = SignallingConnector()
    index = _index(connector)
    reference = _index(concurrent=False)
    assert index._overlapping.acquire()  # as if another search were overlapping now
    try:
        connector.sparse_started.clear()
        entered: list[str] = []
        original = index._search_overlapped
        index._search_overlapped = lambda req: entered.append(req.query) or original(req)  # type: ignore[method-assign]
        got = index.search(QUERIES[2], k=4)
        assert entered == []
    finally:
        index._overlapping.release()
    assert [h.model_dump() for h in got] == [h.model_dump() for h in reference.search(QUERIES[2], k=4)]
    index.search(QUERIES[2], k=4)
    assert entered == [QUERIES[2]] and not index._overlapping.locked()
    index.close()
