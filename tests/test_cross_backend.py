"""Cross-backend: the same documents and vectors in Milvus Lite and in Elasticsearch (the noida-db
EMULATOR by default, a real server with ``VECBRIDGE_TEST_ES_URL``) give the same exact top-10 for
dense and sparse queries and the same client-side RRF ranking through ``HybridIndex``.

Exactness: dense uses FLAT on both (ES ``index_options: flat``, brute force); sparse weights are
chosen exactly representable in 9 significant bits, so ES's ``rank_features`` storage keeps them
unchanged. Rankings are compared tie-aware (``assert_same_ranking``) and against numpy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("elasticsearch", reason="needs the elasticsearch client (vecbridge[elasticsearch])")

from tests.facade.fakes import PrecomputedEncoder  # noqa: E402
from vecbridge.connectors.elasticsearch.mapping import truncate_to_9_bits  # noqa: E402
from vecbridge.index import HybridIndex  # noqa: E402
from vecbridge.schemas import DenseIndex, Document, Hit, SparseVector  # noqa: E402
from vecbridge.testing.data import assert_no_near_ties, assert_same_ranking, ranking  # noqa: E402
from vecbridge.testing.es_emulator import external_es_auth, external_es_url, noida_binary  # noqa: E402

N, DIM, VOCAB, K, QUERIES, TOL = 400, 32, 300, 10, 6, 1e-5
RANK_TOL = 1e-6  # float32 scoring noise of both engines (dim 32 dot products, <= 30-term sparse sums)
WINDOW = max(4 * K, 50)  # the facade's default RRF window
NAME = "vb_cross_backend"

pytestmark = pytest.mark.skipif(
    external_es_url() is None and noida_binary() is None,
    reason="noida-db (ES emulator) not installed and VECBRIDGE_TEST_ES_URL not set",
)


def _nine_bit_sparse(rng: np.random.Generator, low: int, high: int) -> SparseVector:
    nnz = int(rng.integers(low, high))
    values = truncate_to_9_bits(rng.random(nnz) + 0.05).astype(np.float64)
    return SparseVector(indices=rng.choice(VOCAB, nnz, replace=False), values=values)


@pytest.fixture(scope="module")
def data() -> tuple[PrecomputedEncoder, list[Document], list[str]]:
    """400 documents and 6 queries with unit dense vectors and 9-bit-exact sparse weights."""
    rng = np.random.default_rng(11)
    encoder = PrecomputedEncoder(DIM, VOCAB)
    texts = [f"document {i}" for i in range(N)] + [f"query {j}" for j in range(QUERIES)]
    dense = rng.standard_normal((len(texts), DIM)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    for row, text in enumerate(texts):
        low, high = (4, 14) if row < N else (10, 30)
        encoder.table[text] = (dense[row], _nine_bit_sparse(rng, low, high))
    docs = [Document(id=f"d{i}", text=texts[i], metadata={}) for i in range(N)]
    return encoder, docs, texts[N:]


def _index(connector, encoder: PrecomputedEncoder, docs: list[Document]) -> HybridIndex:
    index = HybridIndex.create(connector, NAME, dense=encoder, sparse=encoder, dense_index=DenseIndex.FLAT)
    index.upsert(docs)
    return index


@pytest.fixture(scope="module")
def indexes(data, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, HybridIndex]]:
    from vecbridge.connectors.elasticsearch import ElasticsearchConnector
    from vecbridge.connectors.milvus import MilvusConnector
    from vecbridge.testing.es_emulator import shared_es_url

    encoder, docs, _ = data
    workdir: Path = tmp_path_factory.mktemp("cross")
    milvus = MilvusConnector(str(workdir / "milvus.db"))
    es = ElasticsearchConnector(url=shared_es_url(), **external_es_auth())
    es.drop_collection(NAME)
    try:
        yield {"milvus-lite": _index(milvus, encoder, docs), "elasticsearch": _index(es, encoder, docs)}
    finally:
        es.drop_collection(NAME)
        es.close()
        milvus.close()


def _truth(data, query: str, kind: str) -> list[tuple[str, float]]:
    encoder, docs, _ = data
    q_dense, q_sparse = encoder.table[query]
    if kind == "dense":
        scores = np.array(
            [float(encoder.table[d.text][0].astype(np.float64) @ q_dense.astype(np.float64)) for d in docs]
        )
    else:
        scores = np.array([q_sparse.dot(encoder.table[d.text][1]) for d in docs])
    return ranking([d.id for d in docs], scores)


def _check_against_truth(hits: list[Hit], truth: list[tuple[str, float]], what: str) -> None:
    expected = [Hit(id=i, score=s) for i, s in truth[:K] if s > 0 or what.startswith("dense")]
    assert_same_ranking(hits, expected, TOL, what)


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_exact_top10_same_on_both_backends(indexes, data, kind):
    for query in data[2]:
        truth = _truth(data, query, kind)
        results = {name: index.search(query, K, mode=kind) for name, index in indexes.items()}
        for name, hits in results.items():
            _check_against_truth(hits, truth, f"{kind} {name} {query!r}")
        assert_same_ranking(results["milvus-lite"], results["elasticsearch"], TOL, f"{kind} {query!r}")


def test_client_rrf_ranking_same_on_both_backends(indexes, data):
    for query in data[2]:
        for kind in ("dense", "sparse"):
            assert_no_near_ties(_truth(data, query, kind), WINDOW, RANK_TOL)  # fused ranks are well defined
        results = {name: index.search(query, K, mode="hybrid") for name, index in indexes.items()}
        a, b = results["milvus-lite"], results["elasticsearch"]
        assert_same_ranking(a, b, 1e-9, f"hybrid {query!r}")
        ranks_b = {h.id: h.ranks for h in b}
        assert all(h.ranks == ranks_b[h.id] for h in a if h.id in ranks_b), "per-retriever ranks differ"
        assert len(a) == K
