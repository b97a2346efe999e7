"""Milvus's own full-text BM25 as the facade's ``text`` retriever (Milvus Lite file), fused client-side."""

from __future__ import annotations

import pytest

from tests.facade.fakes import BagOfWordsEncoder
from vecbridge import HybridIndex, rrf
from vecbridge.connectors.milvus import MilvusConnector
from vecbridge.schemas import ConfigurationError, Document, Settings

DOCS = [
    Document(id="a", text="Hybrid retrieval fuses dense and sparse rankings", metadata={"lang": "en"}),
    Document(id="b", text="BM25 ranks documents with term statistics", metadata={"lang": "en"}),
    Document(id="c", text="Dense vectors capture meaning beyond exact terms", metadata={"lang": "en"}),
    Document(id="d", text="Reciprocal rank fusion sums one over k plus rank", metadata={"lang": "en"}),
    Document(id="e", text="长江是中国最长的河流", metadata={"lang": "zh"}),
]


@pytest.fixture
def connector(tmp_path):
    with MilvusConnector(str(tmp_path / "text.db")) as connector:
        yield connector


def test_text_retriever_is_milvus_bm25_and_fuses_client_side(connector):
    index = HybridIndex.create(
        connector, "t", dense=BagOfWordsEncoder(), text=True, text_analyzer="english", filterable={"lang": "string"}
    )
    assert index.spec.text_analyzer == "english"
    assert index.upsert(DOCS).written == len(DOCS)
    query = "dense ranking fused"  # stemmed: matches "rankings" and "fuses"
    text_hits = index.search(query, k=5, retrievers=["text"])
    direct = connector.search_text("t", query, 5)
    assert [h.id for h in text_hits] == [h.id for h in direct] and text_hits[0].id == "a"
    assert [h.ranks for h in text_hits] == [{"text": i} for i in range(1, len(text_hits) + 1)]

    hybrid = index.search(query, k=4, window=50)
    expected = rrf(
        {"text": connector.search_text("t", query, 50), "dense": index.search(query, k=50, mode="dense")}, limit=4
    )
    assert [h.id for h in hybrid] == [h.id for h in expected]
    assert [h.score for h in hybrid] == pytest.approx([h.score for h in expected])

    filtered = index.search("fusion rank", k=5, retrievers=["text"], filter={"key": "lang", "op": "==", "value": "zh"})
    assert filtered == []
    with pytest.raises(ConfigurationError, match="fuse 'text' client-side"):
        index.search(query, native=True)


def test_text_only_index_and_default_analyzer(connector):
    index = HybridIndex.create(connector, "only", text=True)
    assert index.spec.text_analyzer == "standard" and index.spec.dense_dim is None
    index.upsert(DOCS)
    assert [h.id for h in index.search("term statistics", k=3, retrievers=["text"])] == ["b"]


def test_settings_choose_the_analyzer(tmp_path, monkeypatch):
    from vecbridge.config import open_index

    monkeypatch.setenv("VECBRIDGE_TEXT_ANALYZER", "chinese")
    settings = Settings(
        uri=str(tmp_path / "s.db"),
        dense_model="none",
        sparse_model="none",
        text_search=True,
        state_dir=str(tmp_path / "state"),
        collection="zh",
    )
    index = open_index(settings)
    try:
        assert index.spec.text_analyzer == "chinese"
        index.upsert(DOCS)
        assert index.search("中国最长的河流是哪条", k=1, retrievers=["text"])[0].id == "e"
    finally:
        index.connector.close()
    with pytest.raises(ConfigurationError, match="VECBRIDGE_TEXT_ANALYZER=.klingon"):
        Settings(text_analyzer="klingon")
