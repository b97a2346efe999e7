"""A batch of searches asks each retriever once per shared set of parameters (one multi-query
Milvus search) and reads late content with one ``get``; every query's hits equal its own search's."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from vecbridge import HybridIndex, store_batches
from vecbridge.connectors.milvus import MilvusConnector
from vecbridge.schemas import Document, SparseVector, parse_filter, validate_filter
from vecbridge.testing.encoders import BagOfWordsEncoder

WORDS = "vector database hybrid search sparse dense fusion rank milvus query text model index".split()
DOCS = [
    Document(
        id=f"d{i:03d}",
        text=" ".join(WORDS[(i * j) % len(WORDS)] for j in range(1, 4 + i % 5)),
        metadata={"year": 2000 + i % 7},
    )
    for i in range(60)
]
QUERIES = [" ".join(WORDS[(q + j) % len(WORDS)] for j in range(1 + q % 3)) for q in range(24)] + ["zzz unknown"]
OPTIONS = [
    {},
    {"filter": {"key": "year", "op": ">=", "value": 2003}},
    {"weights": {"dense": 2.0}},
    {"method": "linear", "k": 12},
    {"window": 8},
    {"mode": "dense", "k": 7},
    {"native": True},
]


class CountingMilvus(MilvusConnector):
    """Milvus Lite, counting single and multi-query searches and gets."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def search_dense(self, *args, **kwargs):
        self._count("search_dense")
        return super().search_dense(*args, **kwargs)

    def search_sparse(self, *args, **kwargs):
        self._count("search_sparse")
        return super().search_sparse(*args, **kwargs)

    def search_dense_many(self, *args, **kwargs):
        self._count("search_dense_many")
        return super().search_dense_many(*args, **kwargs)

    def search_sparse_many(self, *args, **kwargs):
        self._count("search_sparse_many")
        return super().search_sparse_many(*args, **kwargs)

    def get(self, *args, **kwargs):
        self._count("get")
        return super().get(*args, **kwargs)


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    connector = CountingMilvus(str(tmp_path_factory.mktemp("batches") / "store.db"))
    encoder = BagOfWordsEncoder()
    index = HybridIndex.create(connector, "docs", dense=encoder, sparse=encoder, filterable={"year": "int"})
    assert index.upsert(DOCS).written == len(DOCS)
    yield index
    index.close()
    connector.close()


def _dump(results):
    return [[h.model_dump() for h in hits] for hits in results]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "defaults")
def test_batch_equals_one_search_per_query(index, options) -> None:
    index.connector.calls.clear()
    alone = [index.search(q, **options) for q in QUERIES]
    alone_calls = dict(index.connector.calls)
    index.connector.calls.clear()
    batch = index.search_batch(QUERIES, **options)
    assert _dump(batch) == _dump(alone)
    calls = index.connector.calls
    if options.get("native"):
        assert calls == alone_calls  # server-side fusion: one hybrid search per query, as alone
        return
    many = {name: n for name, n in calls.items() if name.endswith("_many")}
    expected = (
        {"search_dense_many": 1}
        if options.get("mode") == "dense"
        else {
            "search_dense_many": 1,
            "search_sparse_many": 1,
        }
    )
    assert many == expected
    assert calls.get("get", 0) == (0 if options.get("mode") == "dense" else 1)
    # every query's first call went into the multi-query one; ties at a cut-off still ask that
    # query's retriever again, alone, as they do without the batch (``settled_top``)
    for name in expected:
        single = name.removesuffix("_many")
        assert calls.get(single, 0) == alone_calls[single] - len(QUERIES)


def test_requests_with_different_parameters_do_not_share_a_call(index) -> None:
    requests = index._requests(QUERIES[:4], 5, "hybrid", None, 60.0, None, None, {}) + index._requests(
        QUERIES[4:8], 5, "hybrid", {"key": "year", "op": "<", "value": 2004}, 60.0, None, None, {}
    )
    index.connector.calls.clear()
    batch = index.run(requests)
    assert index.connector.calls["search_dense_many"] == index.connector.calls["search_sparse_many"] == 2
    alone = [index.search(q, 5) for q in QUERIES[:4]] + [
        index.search(q, 5, filter={"key": "year", "op": "<", "value": 2004}) for q in QUERIES[4:8]
    ]
    assert _dump(batch) == _dump(alone)


def test_milvus_many_equals_one_search_each(index) -> None:
    connector, encoder = index.connector, BagOfWordsEncoder()
    texts = QUERIES[:6] + ["zzz unknown"]
    emb = encoder.encode_queries(texts)
    flt = validate_filter(parse_filter({"key": "year", "op": ">", "value": 2001}), index.spec)
    dense = connector.search_dense_many("docs", list(emb.dense), 9, flt)
    assert [[h.model_dump() for h in hits] for hits in dense] == [
        [h.model_dump() for h in connector.search_dense("docs", v, 9, flt)] for v in emb.dense
    ]
    sparse = list(emb.sparse) + [SparseVector(indices=[], values=[])]
    many = connector.search_sparse_many("docs", sparse, 9, content=False)
    assert many[-1] == [] and len(many) == len(sparse)
    assert [[(h.id, h.score) for h in hits] for hits in many] == [
        [(h.id, h.score) for h in connector.search_sparse("docs", v, 9, content=False)] for v in sparse
    ]
    assert connector.search_dense_many("docs", [], 9) == []


def test_plan_groups_equal_calls_and_leaves_single_ones() -> None:
    a = store_batches.StoreCall("dense", "dense", 11, None, None, False)
    b = store_batches.StoreCall("sparse", "sparse", 11, None, None, False)
    c = store_batches.StoreCall("dense", "dense", 11, '{"x":1}', None, False)
    assert store_batches.plan([(0, a), (0, b), (1, a), (1, b), (2, c), (3, a)]) == {a: [0, 1, 3], b: [0, 1]}


def _gated(batched: HybridIndex, requests: list, clear) -> tuple[list, list[int]]:
    """Runs ``requests`` from threads while a first search holds the coalescer; returns each
    request's hits or error, and the sizes of the coalesced runs."""
    coalescer, release, sizes = batched._searches, threading.Event(), []
    coalescer.max_running = 1  # the next batch forms while the first one runs
    run = coalescer.run

    def gated(batch):
        sizes.append(len(batch))
        if len(sizes) == 1:
            assert release.wait(30)
        return run(batch)

    def outcome(req):
        try:
            return batched.run([req])[0]
        except Exception as exc:  # noqa: BLE001 - the error is the outcome
            return exc

    coalescer.run = gated
    with ThreadPoolExecutor(len(requests) + 1) as pool:
        first = pool.submit(batched.search, QUERIES[-1], 5)
        while not sizes:
            time.sleep(0.01)
        futures = [pool.submit(outcome, req) for req in requests]
        deadline = time.monotonic() + 30
        while len(coalescer._waiting) < len(requests) and time.monotonic() < deadline:
            time.sleep(0.01)
        clear()
        release.set()
        first.result()
        return [f.result() for f in futures], sizes


def test_concurrent_searches_run_as_one_batch(index) -> None:
    """batch_queries: searches arriving while one runs are served together, each with its own hits."""
    batched = HybridIndex(index.connector, index.spec, list(index.retrievers.values()), batch_queries=True)
    requests = index._requests(QUERIES[:10], 5, "hybrid", None, 60.0, None, None, {})
    got, sizes = _gated(batched, requests, index.connector.calls.clear)
    assert sizes == [1, 10]
    assert _dump(got) == _dump([index.search(q, 5) for q in QUERIES[:10]])
    assert index.connector.calls["search_dense_many"] == 1
    batched.close()


def test_a_failing_search_in_a_batch_fails_alone(index) -> None:
    batched = HybridIndex(index.connector, index.spec, list(index.retrievers.values()), batch_queries=True)
    good = index._requests(QUERIES[:3], 5, "hybrid", None, 60.0, None, None, {})
    bad = index._requests(["x"], 5, "hybrid", None, 60.0, None, None, {"retrievers": ["nope"]})
    got, sizes = _gated(batched, good + bad, lambda: None)
    assert sizes[:2] == [1, 4]  # the batch of four failed; each then ran alone
    assert "unknown retrievers ['nope']" in str(got[3])
    assert _dump(got[:3]) == _dump([index.search(q, 5) for q in QUERIES[:3]])
    batched.close()


def test_two_batches_may_run_at_once(index) -> None:
    """The index lets a second batch start while one runs (one can encode while the other waits on
    the store); a third waits for either."""
    batched = HybridIndex(index.connector, index.spec, list(index.retrievers.values()), batch_queries=True)
    coalescer, release, sizes = batched._searches, threading.Event(), []
    assert coalescer.max_running == 2
    run = coalescer.run

    def gated(batch):
        sizes.append(len(batch))
        if len(sizes) <= 2:
            assert release.wait(30)
        return run(batch)

    coalescer.run = gated
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(batched.search, QUERIES[0], 5)]
        while len(sizes) < 1:
            time.sleep(0.01)
        futures.append(pool.submit(batched.search, QUERIES[1], 5))
        while len(sizes) < 2:
            time.sleep(0.01)
        futures += [pool.submit(batched.search, q, 5) for q in QUERIES[2:6]]
        deadline = time.monotonic() + 30
        while len(coalescer._waiting) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sizes == [1, 1]  # two running, four waiting
        release.set()
        got = [f.result() for f in futures]
    assert sorted(sizes[2:], reverse=True)[0] >= 2 and sum(sizes) == 6
    assert _dump(got) == _dump([index.search(q, 5) for q in QUERIES[:6]])
    batched.close()


def test_async_batches_share_store_calls_and_equal_sync(index) -> None:
    """AsyncHybridIndex: the same multi-query store calls and one get; batch_queries coalesces tasks."""
    import asyncio

    from vecbridge import AsyncHybridIndex
    from vecbridge.connectors.milvus import AsyncMilvusConnector

    calls: dict[str, int] = {}

    class CountingAsync(AsyncMilvusConnector):
        async def search_dense_many(self, *args, **kwargs):
            calls["dense_many"] = calls.get("dense_many", 0) + 1
            return await super().search_dense_many(*args, **kwargs)

        async def get(self, *args, **kwargs):
            calls["get"] = calls.get("get", 0) + 1
            return await super().get(*args, **kwargs)

    retrievers = list(index.retrievers.values())
    want = {str(o): [index.search(q, **o) for q in QUERIES] for o in OPTIONS[:4]}

    async def main():
        connector = CountingAsync(index.connector.uri)
        try:
            plain = await AsyncHybridIndex.open(connector, index.spec, retrievers)
            for options in OPTIONS[:4]:
                calls.clear()
                assert _dump(await plain.search_batch(QUERIES, **options)) == _dump(want[str(options)])
                assert calls == {"dense_many": 1, "get": 1}
            batched = await AsyncHybridIndex.open(connector, index.spec, retrievers, batch_queries=True)
            calls.clear()
            got = await asyncio.gather(*(batched.search(q) for q in QUERIES))
            assert _dump(got) == _dump(want["{}"])
            coalescer = batched._searches[asyncio.get_running_loop()]
            assert coalescer.calls < len(QUERIES) and calls["dense_many"] <= coalescer.calls
        finally:
            await connector.close()

    asyncio.run(main())
