"""Concurrent retriever calls and pipelined query encoding: same rankings as the sequential path,
and the calls really overlap (checked with barriers/events that would time out if they did not)."""

from __future__ import annotations

import threading

import pytest

from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from vecbridge import HybridIndex
from vecbridge.index import first_fetch
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
QUERIES = [" ".join(WORDS[(q + j) % len(WORDS)] for j in range(1 + q % 3)) for q in range(150)]


def _pair(connector_factory):
    encoder = BagOfWordsEncoder()
    built = []
    for concurrent in (True, False):
        index = HybridIndex.create(
            connector_factory(concurrent),
            "docs",
            dense=encoder,
            sparse=encoder,
            filterable={"year": "int"},
            concurrent=concurrent,
        )
        assert index.upsert(DOCS).written == len(DOCS)
        built.append(index)
    return built


def _assert_same(got, want) -> None:
    assert [[h.id for h in hits] for hits in got] == [[h.id for h in hits] for hits in want]
    assert [[h.ranks for h in hits] for hits in got] == [[h.ranks for h in hits] for hits in want]
    assert [[h.score for h in hits] for hits in got] == [[h.score for h in hits] for hits in want]


def test_concurrent_equals_sequential_with_the_fake_connector() -> None:
    fast, slow = _pair(lambda _: InMemoryConnector())
    for kwargs in (
        {},
        {"filter": {"key": "year", "op": ">=", "value": 2003}},
        {"weights": {"dense": 2.0}},
        {"method": "linear"},
    ):
        _assert_same(fast.search_batch(QUERIES, k=7, **kwargs), slow.search_batch(QUERIES, k=7, **kwargs))
    assert [h.id for h in fast.search(QUERIES[3])] == [h.id for h in slow.search(QUERIES[3])]
    fast.close()
    _assert_same(fast.search_batch(QUERIES[:5]), slow.search_batch(QUERIES[:5]))  # a new pool after close


class BarrierConnector(InMemoryConnector):
    """The first dense and the first sparse call of a search must meet at a 2-party barrier: only
    concurrent calls pass. (Later calls — the index re-fetches when a score tie crosses the cut-off —
    go straight through.)"""

    def __init__(self) -> None:
        super().__init__()
        self.barrier = threading.Barrier(2, timeout=10)
        self.met: set[str] = set()

    def _meet(self, kind: str) -> None:
        if kind not in self.met:
            self.met.add(kind)
            self.barrier.wait()

    def search_dense(self, *args, **kwargs):
        self._meet("dense")
        return super().search_dense(*args, **kwargs)

    def search_sparse(self, *args, **kwargs):
        self._meet("sparse")
        return super().search_sparse(*args, **kwargs)


def test_retriever_calls_overlap() -> None:
    encoder = BagOfWordsEncoder()
    index = HybridIndex.create(BarrierConnector(), "docs", dense=encoder, sparse=encoder)
    index.upsert(DOCS)
    assert index.search(QUERIES[0], k=3)  # sequential calls would break the barrier (10 s timeout)
    index.concurrent = False
    index.connector.barrier = threading.Barrier(2, timeout=0.2)
    index.connector.met = set()
    with pytest.raises(threading.BrokenBarrierError):
        index.search(QUERIES[0], k=3)
    index.close()


class SignallingEncoder(BagOfWordsEncoder):
    """Records the order of query-encoding calls; chunk n+1 encoding sets ``started[n+1]``."""

    def __init__(self, chunks: int) -> None:
        super().__init__()
        self.started = [threading.Event() for _ in range(chunks)]
        self.query_calls = 0

    def encode_queries(self, texts):
        self.started[self.query_calls].set()
        self.query_calls += 1
        return self._encode(texts)


class WaitingConnector(InMemoryConnector):
    """A search of chunk n waits until the encoding of chunk n+1 has started (pipelining)."""

    def __init__(self, encoder: SignallingEncoder, chunk: int) -> None:
        super().__init__()
        self.encoder, self.chunk, self.searches = encoder, chunk, 0

    def search_dense(self, collection, vector, k, filter=None):
        if k != first_fetch(5):  # the index re-fetching a tie that crosses the cut-off: not a new query
            return super().search_dense(collection, vector, k, filter)
        position = self.searches // self.chunk
        self.searches += 1
        if position + 1 < len(self.encoder.started):
            assert self.encoder.started[position + 1].wait(5), f"chunk {position + 1} was not encoded ahead"
        return super().search_dense(collection, vector, k, filter)


def test_search_batch_encodes_the_next_chunk_while_searching() -> None:
    chunk, chunks = 4, 3
    encoder = SignallingEncoder(chunks)
    connector = WaitingConnector(encoder, chunk)
    index = HybridIndex.create(connector, "docs", dense=encoder)
    index.query_chunk = chunk
    index.upsert(DOCS)
    results = index.search_batch(QUERIES[: chunk * chunks], k=5, mode="dense")
    assert encoder.query_calls == chunks and connector.searches == chunk * chunks
    plain = HybridIndex.create(InMemoryConnector(), "docs", dense=BagOfWordsEncoder(), concurrent=False)
    plain.upsert(DOCS)
    _assert_same(results, plain.search_batch(QUERIES[: chunk * chunks], k=5, mode="dense"))


def test_concurrent_equals_sequential_on_milvus_lite(tmp_path) -> None:
    pytest.importorskip("milvus_lite", reason="needs milvus-lite")
    from vecbridge.connectors.milvus import MilvusConnector

    connectors = []

    def make(concurrent: bool):
        connectors.append(MilvusConnector(str(tmp_path / f"c{int(concurrent)}.db")))
        return connectors[-1]

    fast, slow = _pair(make)
    try:
        for kwargs in ({}, {"filter": {"key": "year", "op": "<", "value": 2004}}):
            _assert_same(fast.search_batch(QUERIES[:80], k=6, **kwargs), slow.search_batch(QUERIES[:80], k=6, **kwargs))
    finally:
        fast.close()
        for connector in connectors:
            connector.close()


def test_batched_query_encoding_gives_every_thread_and_task_its_own_results() -> None:
    """batch_queries on (the default) vs off: same hits for each of many concurrent searches, threads and tasks."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from vecbridge import AsyncHybridIndex
    from vecbridge.connectors import ThreadedConnector

    connector, encoder = InMemoryConnector(), BagOfWordsEncoder()
    batched = HybridIndex.create(
        connector, "docs", dense=encoder, sparse=encoder, filterable={"year": "int"}, batch_queries=True
    )
    assert batched.upsert(DOCS).written == len(DOCS)
    plain = HybridIndex(connector, batched.spec, list(batched.retrievers.values()), batch_queries=False)
    assert batched.batch_queries and not plain.batch_queries and plain._searches is None
    assert batched._searches is not None  # whole searches coalesce (tests/facade/test_store_batches.py)
    want = [[(h.id, h.ranks, h.score) for h in plain.search(q, k=5)] for q in QUERIES]
    with ThreadPoolExecutor(24) as pool:
        got = list(pool.map(lambda q: [(h.id, h.ranks, h.score) for h in batched.search(q, k=5)], QUERIES))
    assert got == want

    async def tasks() -> list:
        index = await AsyncHybridIndex.open(
            ThreadedConnector(connector), batched.spec, list(batched.retrievers.values()), batch_queries=True
        )
        results = await asyncio.gather(*(index.search(q, k=5) for q in QUERIES))
        return [[(h.id, h.ranks, h.score) for h in hits] for hits in results]

    assert asyncio.run(tasks()) == want
    batched.close(), plain.close()


def test_batch_queries_must_be_a_bool() -> None:
    from vecbridge.schemas import ConfigurationError

    with pytest.raises(ConfigurationError, match="batch_queries must be True or False, got 'yes'"):
        HybridIndex.create(InMemoryConnector(), "docs", dense=BagOfWordsEncoder(), batch_queries="yes")
