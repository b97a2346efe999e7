"""The adapters between sync and async connectors keep the optional multi-query searches of the connector
they wrap, so batched searches through them still share one store call per retriever."""

from __future__ import annotations

import asyncio

from tests.asyncapi.test_async_index import documents
from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from vecbridge import AsyncHybridIndex, HybridIndex
from vecbridge.connectors import BlockingConnector, ThreadedConnector
from vecbridge.store_batches import supports_many

QUERIES = ["dense vector", "sparse rank fusion", "hybrid query encoder", "vector store index"]


class ManyConnector(InMemoryConnector):
    """``InMemoryConnector`` with the multi-query searches, recording each call's kind and query count."""

    def __init__(self) -> None:
        super().__init__()
        self.many_calls: list[tuple[str, int]] = []

    def search_dense_many(self, collection, vectors, k, filter=None, ef=None, *, content=True):
        self.many_calls.append(("dense", len(vectors)))
        return [self.search_dense(collection, v, k, filter) for v in vectors]

    def search_sparse_many(self, collection, vectors, k, filter=None, field="sparse", *, content=True):
        self.many_calls.append(("sparse", len(vectors)))
        return [self.search_sparse(collection, v, k, filter, field) for v in vectors]


def _summary(hits):
    return [(h.id, round(h.score, 9)) for h in hits]


def test_adapters_have_the_multi_query_searches_exactly_when_the_wrapped_connector_has_them() -> None:
    plain, many = InMemoryConnector(), ManyConnector()
    for kind in ("dense", "sparse"):
        assert not supports_many(ThreadedConnector(plain), kind)
        assert not supports_many(BlockingConnector(ThreadedConnector(plain)), kind)
        assert supports_many(ThreadedConnector(many), kind)
        assert supports_many(BlockingConnector(ThreadedConnector(many)), kind)


def test_async_batch_through_threaded_connector_shares_one_call_per_retriever() -> None:
    encoder, store = BagOfWordsEncoder(), ManyConnector()

    async def main():
        index = await AsyncHybridIndex.create(ThreadedConnector(store), "m", dense=encoder, sparse=encoder)
        await index.upsert(documents(40))
        batch = await index.search_batch(QUERIES, k=5)
        calls = list(store.many_calls)
        alone = [await index.search(q, k=5) for q in QUERIES]
        return batch, calls, alone

    batch, calls, alone = asyncio.run(main())
    assert sorted(calls) == [("dense", len(QUERIES)), ("sparse", len(QUERIES))]
    assert [_summary(h) for h in batch] == [_summary(h) for h in alone]
    assert all(batch)


def test_sync_batch_through_blocking_connector_shares_one_call_per_retriever() -> None:
    encoder, store = BagOfWordsEncoder(), ManyConnector()
    connector = BlockingConnector(ThreadedConnector(store))
    try:
        index = HybridIndex.create(connector, "m", dense=encoder, sparse=encoder)
        index.upsert(documents(40))
        batch = index.search_batch(QUERIES, k=5)
        assert sorted(store.many_calls) == [("dense", len(QUERIES)), ("sparse", len(QUERIES))]
        assert [_summary(h) for h in batch] == [_summary(index.search(q, k=5)) for q in QUERIES]
    finally:
        connector.close()
