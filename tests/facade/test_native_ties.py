"""Server-side RRF (``native=True``) ordered like the pinned RRF when fused scores tie exactly: ties by
ascending id, and a tie at the cut-off settled by fetching more. A store that returns ties in its own
order (here: descending id, cut anywhere) must not change the result; Milvus Lite agrees on real data."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.facade.fakes import InMemoryConnector, PrecomputedEncoder
from vecbridge import AsyncHybridIndex, HybridIndex, fusion
from vecbridge.connectors import ThreadedConnector
from vecbridge.schemas import Document, SparseVector

QUERY = "q"
N = 8
IDS = ["k7", "b2", "x0", "a9", "m4", "c1", "z3", "e5"]  # dense rank order; sparse is the reverse


class TieReversingConnector(InMemoryConnector):
    """The in-memory store with a server-side RRF that returns exactly tied hits by descending id."""

    def __init__(self) -> None:
        super().__init__()
        self.native_limits: list[int] = []

    def search_hybrid_native(self, collection, dense, sparse, k, filter=None, rrf_k=60.0, window=50):
        self.native_limits.append(k)
        lists = {"dense": self.search_dense(collection, dense, window, filter)}
        lists.update({f: self.search_sparse(collection, v, window, filter, field=f) for f, v in sparse.items()})
        fused = fusion.rrf(lists, limit=10 * window, k=rrf_k)
        return sorted(fused, key=lambda h: (-h.score, [-ord(c) for c in h.id]))[:k]


def unit(*xs: float) -> np.ndarray:
    v = np.zeros(4, dtype=np.float32)
    v[: len(xs)] = xs
    return v / np.linalg.norm(v)


def tied_index(connector) -> HybridIndex:
    """The i-th of ``IDS`` is dense rank i and sparse rank N + 1 - i, so the i-th and the
    (N + 1 - i)-th fuse to exactly the same score: four tied pairs."""
    encoder = PrecomputedEncoder(dense_dim=4)
    encoder.table = {QUERY: (unit(1.0), SparseVector.from_dict({5: 1.0}))}
    for rank, doc in enumerate(IDS, 1):
        angle = rank * 0.1
        encoder.table[doc] = (unit(np.cos(angle), np.sin(angle)), SparseVector.from_dict({5: float(rank)}))
    index = HybridIndex.create(connector, "ties", dense=encoder, sparse=encoder)
    assert index.upsert([Document(id=i, text=i) for i in IDS]).written == N
    return index


@pytest.fixture(scope="module")
def fake():
    return tied_index(TieReversingConnector())


@pytest.fixture(scope="module")
def milvus(tmp_path_factory):
    pytest.importorskip("milvus_lite", reason="needs milvus-lite")
    from vecbridge.connectors.milvus import MilvusConnector

    connector = MilvusConnector(str(tmp_path_factory.mktemp("native") / "ties.db"))
    yield tied_index(connector)
    connector.close()


def test_the_fake_store_really_returns_ties_by_descending_id(fake):
    raw = fake.connector.search_hybrid_native(
        "ties", unit(1.0), {"sparse": SparseVector.from_dict({5: 1.0})}, N, window=N
    )
    assert [h.score for h in raw[0::2]] == [h.score for h in raw[1::2]]
    assert all(a.id > b.id for a, b in zip(raw[0::2], raw[1::2], strict=False))


@pytest.mark.parametrize("k", range(1, N + 1))
def test_native_rrf_orders_ties_by_id_like_client_side_rrf(fake, k):
    client = fake.search(QUERY, k=k, window=N)
    fake.connector.native_limits.clear()
    native = fake.search(QUERY, k=k, window=N, native=True)
    assert len(client) == k and client[0].ranks.keys() == {"dense", "sparse"}
    assert [h.id for h in native] == [h.id for h in client]
    assert [h.score for h in native] == pytest.approx([h.score for h in client], rel=1e-12)
    if k % 2:  # an odd k cuts a tied pair: one extra hit shows it, then the fetch doubles
        assert fake.connector.native_limits == [k + 1, 2 * (k + 1)]
    else:
        assert fake.connector.native_limits == [k + 1]


def test_async_native_rrf_orders_ties_by_id(fake):
    async def run():
        index = AsyncHybridIndex(ThreadedConnector(fake.connector), fake.spec, list(fake.retrievers.values()))
        return await index.search(QUERY, k=3, window=N, native=True)

    assert [h.id for h in asyncio.run(run())] == [h.id for h in fake.search(QUERY, k=3, window=N)]


@pytest.mark.parametrize("k", [1, 3, 8])
def test_milvus_native_rrf_equals_client_side_rrf_under_ties(milvus, k):
    client = milvus.search(QUERY, k=k, window=N)
    native = milvus.search(QUERY, k=k, window=N, native=True)
    assert [h.id for h in native] == [h.id for h in client]
    assert [h.score for h in native] == pytest.approx([h.score for h in client], rel=1e-6)
