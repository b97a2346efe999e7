"""Milvus searches read their answers column by column (``connectors/milvus/answers.py``): the hits
equal those of pymilvus' parsed result, and a fused search whose retrievers return ids and scores
only, the fused top hits then read with one ``get`` (``late_content``, the default), equals the
search whose retrievers return content, ties and filters included (Milvus Lite file)."""

from __future__ import annotations

import pytest

from tests.facade.fakes import BagOfWordsEncoder
from vecbridge import HybridIndex
from vecbridge.connectors.milvus import MilvusConnector, answers, requests as rq
from vecbridge.schemas import Document, ScoredIds, parse_filter

WORDS = "vector database hybrid search sparse dense fusion rank milvus query text model index".split()
DOCS = [
    Document(
        id=f"d{i:03d}",
        # every 4th document repeats another's text: equal vectors, exactly tied scores
        text=" ".join(WORDS[((i - i % 4) * j) % len(WORDS)] for j in range(1, 4 + i % 5)),
        metadata={"year": 2000 + i % 7, "tag": f"t{i % 3}", "nested": {"x": [i, 0.1 * i, "é\"'\\"]}},
    )
    for i in range(60)
]
DOCS.append(Document(id="bare", text="vector search", metadata={}))
QUERIES = [" ".join(WORDS[(q + j) % len(WORDS)] for j in range(1 + q % 3)) for q in range(25)]
OPTIONS = [
    {},
    {"filter": {"key": "year", "op": ">=", "value": 2003}},
    {"filter": {"key": "tag", "op": "==", "value": "t1"}, "k": 4},
    {"weights": {"dense": 2.0}, "window": 8},
    {"method": "linear", "k": 12},
    {"k": 1},
]


@pytest.fixture
def index(tmp_path):
    with MilvusConnector(str(tmp_path / "answers.db")) as connector:
        encoder = BagOfWordsEncoder()
        index = HybridIndex.create(
            connector, "docs", dense=encoder, sparse=encoder, filterable={"year": "int", "tag": "string"}
        )
        assert index.upsert(DOCS).written == len(DOCS)
        yield index
        index.close()


def _dump(results):
    return [[h.model_dump() for h in hits] for hits in results]


def test_column_hits_equal_pymilvus_parsed_hits(index) -> None:
    connector, spec = index.connector, index.spec
    client = connector.client
    assert answers.raw_searcher(client) is not None  # the installed pymilvus takes the fast path
    encoder = index.retrievers["dense"].encoder
    emb = encoder.encode_queries(QUERIES)
    filters = [None, parse_filter({"key": "year", "op": "<", "value": 2004})]
    for row in range(len(QUERIES)):
        for filter_ in filters:
            for content in (True, False):
                requests = [
                    rq.dense_search(spec, emb.dense[row], 30, filter_, content=content),
                    rq.sparse_search(spec, emb.sparse[row], 30, filter_, "sparse", content),
                ]
                for request in filter(None, requests):
                    message = answers.search_answer(client, "docs", request)
                    assert answers.is_message(message)
                    (fast,) = answers.message_hits(message, content)
                    parsed = rq.hits(client.search("docs", **request), content)
                    assert fast == parsed
                    assert [h.model_fields_set for h in fast] == [h.model_fields_set for h in parsed]
                    assert content or isinstance(fast, ScoredIds)
                    assert not content or all(h.text for h in fast)
                    assert content or all(h.text == "" and h.metadata == {} for h in fast)


def test_fallback_reads_the_parsed_result(index) -> None:
    class PublicOnly:  # a client without the internals of the fast path
        def __init__(self, client):
            self.client = client

        def search(self, collection, **request):
            return self.client.search(collection, **request)

    client = PublicOnly(index.connector.client)
    assert answers.raw_searcher(client) is None
    vector = index.retrievers["dense"].encoder.encode_queries(["hybrid search"]).dense[0]
    request = rq.dense_search(index.spec, vector, 10, None)
    answer = answers.search_answer(client, "docs", request)
    assert not answers.is_message(answer)
    assert [rq.hits(answer)] == answers.message_hits(
        answers.search_answer(index.connector.client, "docs", request), True
    )


def test_a_many_query_answer_splits_by_query(index) -> None:
    """nq query vectors in one request: each query's hits equal its own search's (with ties)."""
    spec, client = index.spec, index.connector.client
    emb = index.retrievers["dense"].encoder.encode_queries(QUERIES)
    for content in (True, False):
        request = rq.dense_search_many(spec, list(emb.dense), 30, None, content=content)
        many = answers.message_hits(answers.search_answer(client, "docs", request), content, len(QUERIES))
        alone = [index.connector.search_dense("docs", v, 30, content=content) for v in emb.dense]
        assert many == alone
        with pytest.raises(ValueError, match="expected the answer of 2 queries"):
            answers.message_hits(answers.search_answer(client, "docs", request), content, 2)


@pytest.mark.parametrize("concurrent", [True, False])
def test_late_content_equals_content_from_every_retriever(index, concurrent: bool) -> None:
    index.concurrent = concurrent
    assert index.late_content
    for options in OPTIONS:
        late = index.search_batch(QUERIES, **options)
        index.late_content = False
        inline = index.search_batch(QUERIES, **options)
        index.late_content = True
        assert _dump(inline) == _dump(late)
        assert any(hits for hits in inline)
    ties = [h for hits in index.search_batch(QUERIES, k=20) for h in hits]
    assert len({h.score for h in ties}) < len(ties)  # the corpus does produce tied fused scores
    hits = index.search(QUERIES[3], k=5)
    assert all(set(h.ranks) <= {"dense", "sparse"} and h.ranks for h in hits)
    assert all(h.text and "tag" in h.metadata for h in hits if h.id != "bare")


def test_search_errors_map_as_before(milvus_server_factory) -> None:
    """The column path raises what the connector's other calls raise: a down store is one short
    ``StoreUnavailableError`` naming the search; a missing collection is ``CollectionNotFoundError``."""
    import numpy as np

    from vecbridge.schemas import CollectionNotFoundError, CollectionSpec, IndexBatch, StoreUnavailableError

    server = milvus_server_factory()
    spec = CollectionSpec(name="s", dense_dim=4, sparse_fields=())
    connector = MilvusConnector(server.uri, retry_attempts=20, retry_max_wait=2.0)
    connector.ensure_collection(spec)
    docs = [Document(id=f"d{i}", text=f"t{i}") for i in range(6)]
    connector.upsert("s", IndexBatch(documents=docs, dense=np.eye(6, 4) + 0.1))
    query = np.array([1.0, 0.0, 0.0, 0.0])
    before = connector.search_dense("s", query, 3)
    assert [h.id for h in before][:1] == ["d0"] and before[0].text == "t0"
    server.kill()
    with pytest.raises(StoreUnavailableError, match="search_dense") as info:
        connector.search_dense("s", query, 3, content=False)
    assert "\n" not in str(info.value)
    server.start()
    assert connector.search_dense("s", query, 3) == before  # the same connector works again
    with pytest.raises(CollectionNotFoundError):
        connector.search_dense("missing", query, 3)
    connector.close()


def test_async_column_hits_equal_pymilvus_parsed_hits(index) -> None:
    """AsyncMilvusConnector reads its answers by column too: the same hits as AsyncMilvusClient's
    parsed result and as the sync connector, one query or many per call."""
    import asyncio

    from vecbridge.connectors.milvus import AsyncMilvusConnector

    spec, sync = index.spec, index.connector
    emb = index.retrievers["dense"].encoder.encode_queries(QUERIES)
    filters = [None, parse_filter({"key": "year", "op": "<", "value": 2004})]

    async def main() -> None:
        connector = AsyncMilvusConnector(sync.uri)
        try:
            client = await connector._connect()
            assert answers.raw_searcher(client, asynchronous=True) is not None  # the fast path is taken
            for row in range(0, len(QUERIES), 3):
                for filter_, content in [(f, c) for f in filters for c in (True, False)]:
                    requests = [
                        rq.dense_search(spec, emb.dense[row], 30, filter_, content=content),
                        rq.sparse_search(spec, emb.sparse[row], 30, filter_, "sparse", content),
                    ]
                    for request in filter(None, requests):
                        message = await answers.search_answer_async(client, "docs", request)
                        assert answers.is_message(message)
                        (fast,) = answers.message_hits(message, content)
                        parsed = rq.hits(await client.search("docs", **request), content)
                        assert fast == parsed
                        assert [h.model_fields_set for h in fast] == [h.model_fields_set for h in parsed]
                    got = await connector.search_sparse("docs", emb.sparse[row], 30, filter_, content=content)
                    assert got == sync.search_sparse("docs", emb.sparse[row], 30, filter_, content=content)
            for content in (True, False):
                many = await connector.search_dense_many("docs", list(emb.dense), 30, content=content)
                assert many == sync.search_dense_many("docs", list(emb.dense), 30, content=content)
                assert len(many) == len(QUERIES) and all(many)
        finally:
            await connector.close()

    asyncio.run(main())


def test_async_fallback_reads_the_parsed_result(index) -> None:
    import asyncio

    from vecbridge.connectors.milvus import AsyncMilvusConnector

    class PublicOnly:  # an async client without the internals of the fast path
        def __init__(self, client):
            self.client = client

        async def search(self, collection, **request):
            return await self.client.search(collection, **request)

    vector = index.retrievers["dense"].encoder.encode_queries(["hybrid search"]).dense[0]
    request = rq.dense_search(index.spec, vector, 10, None)

    async def main() -> None:
        connector = AsyncMilvusConnector(index.connector.uri)
        try:
            client = PublicOnly(await connector._connect())
            assert answers.raw_searcher(client, asynchronous=True) is None
            answer = await answers.search_answer_async(client, "docs", request)
            assert not answers.is_message(answer)
            assert [rq.hits(answer)] == answers.message_hits(
                answers.search_answer(index.connector.client, "docs", request), True
            )
        finally:
            await connector.close()

    asyncio.run(main())


def test_async_search_errors_map_as_before(milvus_server_factory) -> None:
    """The async column path: a down store is one short ``StoreUnavailableError`` naming the search,
    and the same connector works again once the server is back."""
    import asyncio

    import numpy as np

    from vecbridge.connectors.milvus import AsyncMilvusConnector
    from vecbridge.schemas import CollectionNotFoundError, CollectionSpec, IndexBatch, StoreUnavailableError

    server = milvus_server_factory()
    spec = CollectionSpec(name="s", dense_dim=4, sparse_fields=())
    docs = [Document(id=f"d{i}", text=f"t{i}") for i in range(6)]
    query = np.array([1.0, 0.0, 0.0, 0.0])

    async def main() -> None:
        connector = AsyncMilvusConnector(server.uri, retry_attempts=20, retry_max_wait=2.0)
        try:
            await connector.ensure_collection(spec)
            await connector.upsert("s", IndexBatch(documents=docs, dense=np.eye(6, 4) + 0.1))
            before = await connector.search_dense("s", query, 3)
            assert [h.id for h in before][:1] == ["d0"] and before[0].text == "t0"
            server.kill()
            with pytest.raises(StoreUnavailableError, match="search_dense") as info:
                await connector.search_dense("s", query, 3, content=False)
            assert "\n" not in str(info.value)
            server.start()
            assert await connector.search_dense("s", query, 3) == before
            with pytest.raises(CollectionNotFoundError):
                await connector.search_dense("missing", query, 3)
        finally:
            await connector.close()

    asyncio.run(main())
