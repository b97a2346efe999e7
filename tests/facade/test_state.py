"""State lives with the collection: what ``open_index`` reads and writes, from any working directory,
on a Milvus Lite file (the Elasticsearch emulator: tests/elasticsearch/test_facade_settings.py)."""

from __future__ import annotations

import json
import logging

import pytest
from typer.testing import CliRunner

from vecbridge.config import open_index
from vecbridge.connectors.milvus import MilvusConnector
from vecbridge.encoders.bm25 import BM25Encoder
from vecbridge.index import HybridIndex
from vecbridge.schemas import ConfigurationError, Document, Settings

CORPUS = [
    Document(id=f"d{i}", text=f"document {i} about {topic} and {topic} systems", metadata={"lang": "en"})
    for i, topic in enumerate(["vector", "database", "retrieval", "sparse", "dense", "hybrid"] * 5)
]
NEW = [
    Document(id="n1", text="zebra giraffe savanna", metadata={"lang": "en"}),
    Document(id="n2", text="vector zebra", metadata={"lang": "en"}),
]
QUERY = ["vector database zebra"]


@pytest.fixture(autouse=True)
def no_vecbridge_env(monkeypatch):
    for key in ("URI", "COLLECTION", "STATE_DIR", "DENSE_MODEL", "SPARSE_MODEL", "BACKEND", "TEXT_SEARCH"):
        monkeypatch.delenv(f"VECBRIDGE_{key}", raising=False)


def settings(db, **overrides) -> Settings:
    """BM25 only (no model to load); ``state_dir`` stays the relative default, as for a user."""
    values = {"uri": str(db), "collection": "docs", "dense_model": "none", "sparse_model": "bm25", **overrides}
    return Settings(_env_file=None, **values)


def texts(docs):
    return lambda: (d.text for d in docs)


def ingest(db, docs, **overrides) -> BM25Encoder:
    index = open_index(settings(db, **overrides), {"lang": "string"}, corpus=texts(docs))
    try:
        assert index.upsert(docs).ok
        return index.retrievers["sparse"].encoder
    finally:
        index.connector.close()


def test_a_second_folder_sees_the_same_bm25_statistics_and_adds_to_them(tmp_path, monkeypatch):
    db = tmp_path / "store.db"
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    first = ingest(db, CORPUS)
    assert first.stats == first.stats_of([d.text for d in CORPUS])
    monkeypatch.chdir(tmp_path / "b")  # another folder: no local state at all
    second = ingest(db, NEW)  # the case: a few new documents into a big collection
    assert not (tmp_path / "b" / ".vecbridge").exists() and not (tmp_path / "a" / ".vecbridge").exists()
    assert second.stats == second.stats_of([d.text for d in CORPUS + NEW])  # NEW counted, "zebra" indexed
    assert second.encode_queries(["zebra"]).sparse[0].indices.size == 1
    index = open_index(settings(db))  # search side: no corpus, no filterable given
    try:
        assert index.count() == len(CORPUS) + len(NEW)
        assert index.spec.filterable == {"lang": "string"}
        assert index.search("vector", k=3, mode="sparse", filter={"key": "lang", "op": "==", "value": "en"})
    finally:
        index.connector.close()


def test_the_model_change_guard_holds_from_any_folder(tmp_path, monkeypatch):
    db = tmp_path / "store.db"
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    ingest(db, CORPUS)
    monkeypatch.chdir(tmp_path / "b")
    with pytest.raises(ConfigurationError, match="was built with .*'dense_model': 'none'.*settings say"):
        open_index(settings(db, dense_model="all-MiniLM-L6-v2"), corpus=texts(NEW))
    with pytest.raises(ConfigurationError, match="declares filterable keys"):
        open_index(settings(db), {"year": "int"}, corpus=texts(NEW))


def test_the_cli_guard_holds_from_another_folder(tmp_path, monkeypatch):
    from vecbridge.cli import app

    corpus = tmp_path / "docs.jsonl"
    corpus.write_text("".join(json.dumps({"id": d.id, "text": d.text}) + "\n" for d in CORPUS), encoding="utf-8")
    for key, value in {
        "URI": str(tmp_path / "cli.db"),
        "COLLECTION": "docs",
        "DENSE_MODEL": "none",
        "SPARSE_MODEL": "bm25",
    }.items():
        monkeypatch.setenv(f"VECBRIDGE_{key}", value)
    monkeypatch.delenv("VECBRIDGE_STATE_DIR", raising=False)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(corpus)]).exit_code == 0
    monkeypatch.chdir(tmp_path / "b")
    monkeypatch.setenv("VECBRIDGE_SPARSE_MODEL", "splade-tiny")
    result = runner.invoke(app, ["ingest", str(corpus)])
    assert result.exit_code == 2 and "was built with" in result.output, result.output


def _build_old_layout(db, state_dir, docs) -> BM25Encoder:
    """What an older vecbridge left: the data in the store, manifest + BM25 in a local folder."""
    bm25 = BM25Encoder().fit([d.text for d in docs])
    index = HybridIndex.create(MilvusConnector(str(db)), "docs", sparse=bm25, filterable={"lang": "string"})
    index.upsert(docs)
    index.connector.close()
    folder = state_dir / "docs"
    bm25.save(folder / "bm25")
    manifest = {"dense_model": "none", "sparse_model": "bm25", "spec": index.spec.model_dump(mode="json")}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return bm25


def test_an_old_local_state_folder_is_migrated_into_the_store(tmp_path, monkeypatch, caplog):
    db = tmp_path / "store.db"
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    old = _build_old_layout(db, tmp_path / "a" / ".vecbridge", CORPUS)
    monkeypatch.chdir(tmp_path / "b")
    with pytest.raises(ConfigurationError, match="holds documents but no vecbridge state.*VECBRIDGE_STATE_DIR"):
        open_index(settings(db))
    monkeypatch.chdir(tmp_path / "a")
    with caplog.at_level(logging.WARNING, logger="vecbridge.state"):
        migrated = ingest(db, NEW)
    assert "migrated the state of collection 'docs'" in caplog.text
    assert migrated.n_docs == len(CORPUS) and migrated.encode_queries(QUERY).sparse == old.encode_queries(QUERY).sparse
    connector = MilvusConnector(str(db))
    try:
        assert connector.read_state("docs")["encoders"]["bm25"]["vocab"] == list(old.vocab)
    finally:
        connector.close()
    monkeypatch.chdir(tmp_path / "b")  # from now on any folder works
    index = open_index(settings(db))
    try:
        assert index.retrievers["sparse"].encoder.encode_queries(QUERY).sparse == old.encode_queries(QUERY).sparse
    finally:
        index.connector.close()


def test_a_collection_made_outside_vecbridge(tmp_path):
    db = tmp_path / "store.db"
    bm25 = BM25Encoder().fit([d.text for d in CORPUS])
    index = HybridIndex.create(MilvusConnector(str(db)), "docs", sparse=bm25, filterable={"lang": "string"})
    index.connector.close()
    empty = open_index(settings(db), {"lang": "string"}, corpus=texts(NEW))  # empty: adopted, state written
    try:
        assert empty.connector.read_state("docs")["encoders"]["bm25"]["format_version"] == 2
        empty.upsert(NEW)
        assert empty.corpus_stats.refresh(force=True).n_docs == len(NEW)
        empty.connector.client.drop_collection("docs")  # dropped behind vecbridge's back: the state is stale
    finally:
        empty.connector.close()
    fresh = ingest(db, CORPUS)
    assert fresh.stats.n_docs == len(CORPUS)  # a new collection: the stale statistics are gone
