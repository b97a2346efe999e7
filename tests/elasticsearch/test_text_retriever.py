"""The store's own BM25 as a facade retriever (``text``), on Elasticsearch — the noida-db EMULATOR
unless ``VECBRIDGE_TEST_ES_URL`` names a real server — fused client-side with a dense retriever."""

from __future__ import annotations

import pytest

from tests.facade.fakes import BagOfWordsEncoder
from vecbridge import HybridIndex, rrf
from vecbridge.schemas import ConfigurationError, Document

DOCS = [
    Document(id="a", text="hybrid retrieval fuses dense and sparse rankings", metadata={"lang": "en"}),
    Document(id="b", text="BM25 ranks documents with term statistics", metadata={"lang": "en"}),
    Document(id="c", text="dense vectors capture meaning beyond exact terms", metadata={"lang": "en"}),
    Document(id="d", text="reciprocal rank fusion sums one over k plus rank", metadata={"lang": "en"}),
    Document(id="e", text="长江是中国最长的河流", metadata={"lang": "zh"}),
]


def test_text_retriever_is_the_stores_bm25_and_fuses_client_side(connector, index_name):
    index = HybridIndex.create(
        connector, index_name, dense=BagOfWordsEncoder(), text=True, filterable={"lang": "string"}
    )
    assert index.upsert(DOCS).written == len(DOCS)
    query = "dense rankings fusion"
    text_hits = index.search(query, k=5, retrievers=["text"])
    direct = connector.search_text(index_name, query, 5)
    assert [h.id for h in text_hits] == [h.id for h in direct] and text_hits
    assert [h.ranks for h in text_hits] == [{"text": i} for i in range(1, len(text_hits) + 1)]

    hybrid = index.search(query, k=4, window=50)
    expected = rrf(
        {"text": connector.search_text(index_name, query, 50), "dense": index.search(query, k=50, mode="dense")},
        limit=4,
    )
    assert [h.id for h in hybrid] == [h.id for h in expected]
    assert [h.score for h in hybrid] == pytest.approx([h.score for h in expected])

    filtered = index.search("河流", k=5, retrievers=["text"], filter={"key": "lang", "op": "==", "value": "zh"})
    assert [h.id for h in filtered] == ["e"]
    with pytest.raises(ConfigurationError, match="fuse 'text' client-side"):
        index.search(query, native=True)
