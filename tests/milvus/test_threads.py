"""One connector shared by threads: lazy client, capabilities and collection cache are created
once under a lock while the store calls themselves run concurrently."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from vecbridge.connectors.milvus import MilvusConnector
from vecbridge.schemas import CollectionSpec, Document, IndexBatch, ScalarType, SparseVector
from vecbridge.schemas.filters import eq

SPEC = CollectionSpec(name="threads", dense_dim=8, filterable={"n": ScalarType.INT})


def _batch(start: int, size: int) -> IndexBatch:
    rng = np.random.default_rng(start)
    return IndexBatch(
        documents=[Document(id=f"d{i}", text=f"t{i}", metadata={"n": i % 10}) for i in range(start, start + size)],
        dense=rng.random((size, 8)),
        sparse={"sparse": [SparseVector(indices=[i % 13, 20 + i % 7], values=[1.0, 0.5]) for i in range(size)]},
    )


@pytest.fixture(params=["file", "server"])
def uri(request, tmp_path, milvus_server):
    if request.param == "file":
        return str(tmp_path / "threads.db")
    return milvus_server.uri


def test_eight_searchers_and_one_writer_on_a_fresh_connector(uri):
    with MilvusConnector(uri) as setup:
        if setup.has_collection("threads"):
            setup.drop_collection("threads")
        setup.ensure_collection(SPEC)
        setup.upsert("threads", _batch(0, 200))
    connector = MilvusConnector(uri, batch_size=50)  # fresh: no client, no capabilities, no cached spec yet
    start = threading.Barrier(9)
    errors: list[BaseException] = []
    rng = np.random.default_rng(1)
    queries = rng.random((8, 8))

    def search(worker: int) -> None:
        try:
            start.wait(timeout=60)
            for round_ in range(25):
                hits = connector.search_dense("threads", queries[worker], 5, filter=eq("n", round_ % 10))
                assert len(hits) == 5 and all(h.metadata["n"] == round_ % 10 for h in hits)
                assert connector.search_sparse("threads", SparseVector(indices=[worker], values=[1.0]), 3)
                assert connector.count("threads") >= 200
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    def write() -> None:
        try:
            start.wait(timeout=60)
            for b in range(1, 9):
                assert connector.upsert("threads", _batch(b * 100 + 100, 100)) == 100
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=search, args=(w,)) for w in range(8)] + [threading.Thread(target=write)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert connector.count("threads") == 200 + 8 * 100
    connector.drop_collection("threads")
    connector.close()
