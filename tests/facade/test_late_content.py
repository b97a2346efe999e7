"""Fused searches read text and metadata once, for the final hits: the retrievers are asked for ids
and scores only (``content=False``) when the connector supports it, and the hits equal those of the
path where every retriever returns content (the same backends: vecbridge/testing/conformance/content.py)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from vecbridge import AsyncHybridIndex, HybridIndex
from vecbridge.connectors import ThreadedConnector
from vecbridge.connectors.base import supports_search_without_content
from vecbridge.index import attach_content
from vecbridge.schemas import Document, Hit

WORDS = "vector database hybrid search sparse dense fusion rank milvus query text model index".split()
DOCS = [
    Document(
        id=f"d{i:03d}",
        text=" ".join(WORDS[(i * j) % len(WORDS)] for j in range(1, 4 + i % 5)),
        metadata={"year": 2000 + i % 7, "tag": f"t{i % 3}"},
    )
    for i in range(60)
]
QUERIES = [" ".join(WORDS[(q + j) % len(WORDS)] for j in range(1 + q % 3)) for q in range(40)]
OPTIONS = [
    {},
    {"filter": {"key": "year", "op": ">=", "value": 2003}},
    {"weights": {"dense": 2.0}},
    {"method": "linear", "k": 12},
    {"window": 8},
]


class IdsOnlyConnector(InMemoryConnector):
    """The in-memory store with ``content=False`` searches; records what the index asked."""

    SEARCH_WITHOUT_CONTENT = True

    def __init__(self) -> None:
        super().__init__()
        self.content_flags: list[bool] = []
        self.gets: list[list[str]] = []
        self._lock = threading.Lock()

    def _bare(self, hits: list[Hit], content: bool) -> list[Hit]:
        with self._lock:
            self.content_flags.append(content)
        return hits if content else [Hit(id=h.id, score=h.score) for h in hits]

    def search_dense(self, collection, vector, k, filter=None, *, content=True):
        return self._bare(super().search_dense(collection, vector, k, filter), content)

    def search_sparse(self, collection, vector, k, filter=None, field="sparse", *, content=True):
        return self._bare(super().search_sparse(collection, vector, k, filter, field), content)

    def get(self, collection, ids):
        with self._lock:
            self.gets.append(list(ids))
        return super().get(collection, ids)


def _index(connector, **kwargs) -> HybridIndex:
    encoder = BagOfWordsEncoder()
    index = HybridIndex.create(connector, "docs", dense=encoder, sparse=encoder, filterable={"year": "int"}, **kwargs)
    assert index.upsert(DOCS).written == len(DOCS)
    return index


def _dump(results):
    return [[h.model_dump() for h in hits] for hits in results]


@pytest.mark.parametrize("concurrent", [True, False])
def test_late_content_equals_content_from_every_retriever(concurrent: bool) -> None:
    connector = IdsOnlyConnector()
    index = _index(connector, concurrent=concurrent)
    assert index.late_content
    for options in OPTIONS:
        connector.content_flags.clear()
        connector.gets.clear()
        late = index.search_batch(QUERIES, **options)
        assert set(connector.content_flags) == {False}
        # one get for the whole batch: every query's final hits, each id once
        assert connector.gets == [list(dict.fromkeys(h.id for hits in late for h in hits))]
        index.late_content = False
        inline = index.search_batch(QUERIES, **options)
        index.late_content = True
        assert _dump(late) == _dump(inline)
        plain = _index(InMemoryConnector(), concurrent=concurrent)  # a connector without the flag
        assert not plain.late_content
        assert _dump(plain.search_batch(QUERIES, **options)) == _dump(late)
    assert all(h.text and "tag" in h.metadata for hits in late for h in hits)
    index.close()


def test_rerank_sees_the_text_fetched_after_fusion() -> None:
    class LengthReranker:
        def score(self, query, texts):
            assert all(texts), "the reranker was handed hits without text"
            return [float(len(t)) for t in texts]

    connector = IdsOnlyConnector()
    index = _index(connector)
    index.reranker = LengthReranker()
    late = index.search(QUERIES[5], k=3, rerank_top_n=6)
    assert [len(ids) for ids in connector.gets] == [6]  # content for the whole rerank head, once
    index.late_content = False
    assert _dump([late]) == _dump([index.search(QUERIES[5], k=3, rerank_top_n=6)])


def test_a_single_retriever_search_fetches_content_inline() -> None:
    connector = IdsOnlyConnector()
    index = _index(connector)
    hits = index.search(QUERIES[1], k=4, mode="dense")  # one round trip (more only to settle a tie)
    assert set(connector.content_flags) == {True} and connector.gets == [] and all(h.text for h in hits)


def test_a_document_deleted_between_search_and_get_is_dropped() -> None:
    hits = [Hit(id="a", score=3.0), Hit(id="b", score=2.0), Hit(id="c", score=1.0)]
    docs = [Document(id="c", text="see", metadata={"n": 3}), Document(id="a", text="ay", metadata={"n": 1})]
    kept = attach_content(hits, docs)
    assert [(h.id, h.score, h.text, h.metadata) for h in kept] == [
        ("a", 3.0, "ay", {"n": 1}),
        ("c", 1.0, "see", {"n": 3}),
    ]
    assert kept[0].metadata is not docs[1].metadata
    connector = IdsOnlyConnector()
    index = _index(connector)
    gone = index.search(QUERIES[0], k=5)[0].id
    original_get = connector.get
    connector.get = lambda collection, ids: [d for d in original_get(collection, ids) if d.id != gone]
    assert gone not in [h.id for h in index.search(QUERIES[0], k=5)]


def test_adapters_pass_the_flag_through() -> None:
    assert supports_search_without_content(ThreadedConnector(IdsOnlyConnector()))
    assert not supports_search_without_content(ThreadedConnector(InMemoryConnector()))


def test_async_index_fetches_content_after_fusion() -> None:
    connector = IdsOnlyConnector()
    sync_index = _index(connector)

    async def run():
        index = AsyncHybridIndex(ThreadedConnector(connector), sync_index.spec, list(sync_index.retrievers.values()))
        assert index.late_content
        return [await index.search_batch(QUERIES, **options) for options in OPTIONS]

    connector.gets.clear()
    results = asyncio.run(run())
    assert len(connector.gets) == len(OPTIONS)  # one get per batch: its queries' final hits
    assert connector.gets == [list(dict.fromkeys(h.id for hits in r for h in hits)) for r in results]
    sync_index.late_content = False
    assert [_dump(r) for r in results] == [_dump(sync_index.search_batch(QUERIES, **o)) for o in OPTIONS]
