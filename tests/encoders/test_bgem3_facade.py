"""BGE-M3 through the facade: one encoder pass feeds dense + learned-sparse retrievers on Milvus Lite,
and ColBERT re-scoring of the fused candidates (stand-in random-weight checkpoint)."""

from pathlib import Path

import numpy as np
import pytest

from vecbridge import HybridIndex
from vecbridge.config import open_index
from vecbridge.connectors.milvus import MilvusConnector
from vecbridge.encoders import BGEM3Encoder, BGEM3Rescorer, load_encoder, load_reranker
from vecbridge.schemas import ConfigurationError, Document, Settings

TEXTS = [
    "BGE-M3 gives dense, sparse and multi-vector outputs.",
    "向量数据库用于语义检索。",
    "Milvus stores sparse float vectors next to dense ones.",
    "Reciprocal rank fusion merges ranked lists.",
    "长江是中国最长的河流。",
    "Insulin regulates blood glucose.",
]
DOCS = [
    Document(id=f"d{i}", text=t, metadata={"lang": "zh" if ord(t[0]) > 0x2E80 else "en"}) for i, t in enumerate(TEXTS)
]


class CountingEncoder:
    """Wraps an encoder and counts document-side passes."""

    def __init__(self, inner):
        self.inner, self.passes = inner, 0
        self.name, self.outputs = inner.name, inner.outputs
        self.dense_dim, self.sparse_vocab_size = inner.dense_dim, inner.sparse_vocab_size

    def encode_documents(self, texts):
        self.passes += 1
        return self.inner.encode_documents(texts)

    def encode_queries(self, texts):
        return self.inner.encode_queries(texts)


@pytest.fixture(scope="module")
def m3(bgem3_dir: Path) -> BGEM3Encoder:
    encoder = load_encoder(str(bgem3_dir), outputs={"dense", "sparse"})
    assert isinstance(encoder, BGEM3Encoder)
    return encoder


def test_one_pass_feeds_dense_and_sparse_and_hybrid_is_rrf_of_both(m3, tmp_path):
    counting = CountingEncoder(m3)
    with MilvusConnector(str(tmp_path / "m3.db")) as connector:
        index = HybridIndex.create(
            connector, "m3", dense=counting, sparse=counting, filterable={"lang": "string"}, batch_size=4
        )
        assert index.upsert(DOCS).written == len(DOCS)
        assert counting.passes == 2  # 6 docs / batch 4, each batch encoded once for both fields
        stored = m3.encode_documents(TEXTS)
        query = m3.encode_queries(["sparse vectors in Milvus"])
        dense_hits = index.search("sparse vectors in Milvus", k=6, mode="dense")
        exact = stored.dense @ query.dense[0]
        assert [h.id for h in dense_hits] == [f"d{i}" for i in np.argsort(-exact)]
        sparse_hits = index.search("sparse vectors in Milvus", k=6, mode="sparse")
        for hit in sparse_hits:
            assert hit.score == pytest.approx(stored.sparse[int(hit.id[1:])].dot(query.sparse[0]), rel=1e-4)
        hybrid = index.search("sparse vectors in Milvus", k=3)
        assert all(set(h.ranks) <= {"dense", "sparse"} for h in hybrid) and "dense" in hybrid[0].ranks


def test_colbert_rescoring_orders_candidates_by_maxsim(bgem3_dir, tmp_path):
    full = load_encoder(str(bgem3_dir))
    rescorer = load_reranker("colbert", encoder=full)
    assert isinstance(rescorer, BGEM3Rescorer)
    with MilvusConnector(str(tmp_path / "m3.db")) as connector:
        index = HybridIndex.create(connector, "m3", dense=full, sparse=full, reranker=rescorer)
        index.upsert(DOCS)
        query = "dense and sparse vectors"
        hits = index.search(query, k=4, rerank_top_n=4)
    expected = full.compute_score([(query, h.text) for h in hits])["colbert"]
    assert [h.score for h in hits] == pytest.approx(sorted(expected, reverse=True), abs=1e-5)
    assert [h.ranks["rerank"] for h in hits] == [1, 2, 3, 4]
    assert all("first_stage" in h.ranks for h in hits)


def test_settings_build_a_bgem3_index_with_one_model(bgem3_dir, tmp_path):
    settings = Settings(
        _env_file=None,
        uri=str(tmp_path / "s.db"),
        state_dir=str(tmp_path / "state"),
        dense_model=str(bgem3_dir),
        sparse_model=str(bgem3_dir),
        reranker="colbert",
        collection="m3",
    )
    index = open_index(settings)
    try:
        assert index.retrievers["dense"].encoder is index.retrievers["sparse"].encoder
        assert isinstance(index.reranker, BGEM3Rescorer)
        index.upsert(DOCS[:3])
        assert index.count() == 3
    finally:
        index.connector.close()
    with pytest.raises(ConfigurationError, match="must be BGE-M3"):
        load_reranker("colbert", encoder=object())
