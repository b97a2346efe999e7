"""A batch of searches on Elasticsearch (the noida-db EMULATOR by default): one ``msearch`` per
retriever and parameters; every query's hits equal its own search's, sync and async."""

from __future__ import annotations

import asyncio

import pytest

from tests.facade.test_store_batches import DOCS, OPTIONS, QUERIES
from vecbridge import HybridIndex
from vecbridge.connectors.elasticsearch import AsyncElasticsearchConnector, ElasticsearchConnector
from vecbridge.schemas import ConnectorError
from vecbridge.testing.encoders import BagOfWordsEncoder
from vecbridge.testing.es_emulator import external_es_auth


class CountingES(ElasticsearchConnector):
    def __init__(self, url: str) -> None:
        super().__init__(url=url, **external_es_auth())
        self.msearches = 0

    def _msearch(self, *args, **kwargs):
        self.msearches += 1
        return super()._msearch(*args, **kwargs)


@pytest.fixture
def index(es_url, index_name):
    connector = CountingES(es_url)
    index = HybridIndex.create(
        connector, index_name, dense=BagOfWordsEncoder(), sparse=BagOfWordsEncoder(), filterable={"year": "int"}
    )
    assert index.upsert(DOCS).written == len(DOCS)
    yield index
    index.close()
    connector.close()


def _dump(results):
    return [[h.model_dump() for h in hits] for hits in results]


def test_batch_equals_one_search_per_query(index) -> None:
    for options in [o for o in OPTIONS if not o.get("native")]:
        alone = [index.search(q, **options) for q in QUERIES]
        index.connector.msearches = 0
        assert _dump(index.search_batch(QUERIES, **options)) == _dump(alone)
        assert index.connector.msearches == (1 if options.get("mode") == "dense" else 2)


def test_many_equals_each_sync_and_async(index, es_url) -> None:
    encoder, name = BagOfWordsEncoder(), index.spec.name
    emb = encoder.encode_queries(QUERIES[:5] + ["zzz unknown"])
    sync = index.connector
    dense = sync.search_dense_many(name, list(emb.dense), 7)
    sparse = sync.search_sparse_many(name, list(emb.sparse), 7, content=False)
    assert dense == [sync.search_dense(name, v, 7) for v in emb.dense]
    assert sparse == [sync.search_sparse(name, v, 7, content=False) for v in emb.sparse] and sparse[-1] == []

    async def many_async():
        conn = AsyncElasticsearchConnector(url=es_url, **external_es_auth())
        try:
            return (
                await conn.search_dense_many(name, list(emb.dense), 7),
                await conn.search_sparse_many(name, list(emb.sparse), 7, content=False),
            )
        finally:
            await conn.close()

    assert asyncio.run(many_async()) == (dense, sparse)


def test_a_failed_search_of_the_msearch_fails_the_call(index, monkeypatch) -> None:
    emb = BagOfWordsEncoder().encode_queries(QUERIES[:2])
    answer = {"responses": [{"hits": {"hits": []}}, {"error": {"type": "search_phase_execution_exception"}}]}
    monkeypatch.setattr(index.connector.client, "msearch", lambda **_: answer)
    with pytest.raises(
        ConnectorError, match="search_dense on index .* failed: a search of the msearch failed: .*phase"
    ):
        index.connector.search_dense_many(index.spec.name, list(emb.dense), 5)
    monkeypatch.setattr(index.connector.client, "msearch", lambda **_: {"responses": answer["responses"][:1]})
    with pytest.raises(ConnectorError, match="msearch answered 1 responses for 2 searches"):
        index.connector.search_dense_many(index.spec.name, list(emb.dense), 5)
