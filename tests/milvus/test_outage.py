"""Store outages with a real Milvus Lite server process: SIGKILL it mid-sequence of upserts.

Back within the retry budget -> nothing lost; kept down -> one short StoreUnavailableError, fast."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import pytest

from vecbridge.connectors.milvus import MilvusConnector
from vecbridge.schemas import CollectionSpec, Document, IndexBatch, ScalarType, SparseVector, StoreUnavailableError

SPEC = CollectionSpec(name="o", dense_dim=4, filterable={"n": ScalarType.INT})


def _batch(start: int, size: int) -> IndexBatch:
    return IndexBatch(
        documents=[Document(id=f"d{i}", text=f"t{i}", metadata={"n": i}) for i in range(start, start + size)],
        dense=np.random.default_rng(start).random((size, 4)),
        sparse={"sparse": [SparseVector(indices=[i % 7], values=[1.0]) for i in range(size)]},
    )


def test_killed_and_restarted_within_budget_loses_nothing(milvus_server_factory, caplog):
    server = milvus_server_factory()
    batches, size = 12, 25
    with MilvusConnector(server.uri, retry_max_wait=40) as connector:
        connector.ensure_collection(SPEC)
        restarter = None
        for b in range(batches):
            if b == 4:
                server.kill()  # mid-sequence crash; back in ~2 s while the next upsert retries
                restarter = threading.Timer(2.0, server.start)
                restarter.start()
            assert connector.upsert("o", _batch(b * size, size)) == size
        assert restarter is not None
        restarter.join(timeout=60)
        assert server.running
        assert any("retrying" in r.getMessage() for r in caplog.records), "the outage was never seen"
        assert connector.count("o") == batches * size
        ids = [f"d{i}" for i in range(batches * size)]
        assert [d.id for d in connector.get("o", ids)] == ids


def test_store_kept_down_raises_one_short_error_quickly(milvus_server_factory, caplog):
    server = milvus_server_factory()
    connector = MilvusConnector(server.uri, retry_attempts=20, retry_max_wait=2.0)
    connector.ensure_collection(SPEC)
    connector.upsert("o", _batch(0, 10))
    server.kill()
    caplog.clear()
    started = time.monotonic()
    with caplog.at_level(logging.INFO), pytest.raises(StoreUnavailableError) as info:
        connector.upsert("o", _batch(10, 10))
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"gave up after {elapsed:.1f} s with a 2 s budget"
    message = str(info.value)
    assert "\n" not in message and len(message) < 600, message
    assert server.uri in message and "upsert" in message and "'o'" in message
    assert info.value.written == 0 and info.value.__cause__ is None
    # the driver's own multi-line error records are not printed for each try
    assert not [r for r in caplog.records if r.name.startswith("pymilvus") and r.levelno >= logging.ERROR]
    with pytest.raises(StoreUnavailableError, match="count"):
        connector.count("o")
    server.start()
    assert connector.count("o") == 10  # the same connector works again once the store is back
    connector.close()


def test_non_transient_errors_are_not_retried(milvus_server):
    with MilvusConnector(milvus_server.uri, retry_max_wait=30) as connector:
        connector.ensure_collection(SPEC.model_copy(update={"name": "nt"}))
        started = time.monotonic()
        from vecbridge.schemas import ConnectorError

        calls = []

        def bad(client):
            calls.append(1)
            raise ValueError("invalid expression")

        with pytest.raises(ConnectorError, match="invalid expression"):
            connector._call("query", "nt", bad)
        assert len(calls) == 1 and time.monotonic() - started < 1
        connector.drop_collection("nt")


def test_credentials_never_in_messages():
    connector = MilvusConnector("http://user:secret@127.0.0.1:1", retry_attempts=1, retry_max_wait=0, timeout=1)
    assert "secret" not in repr(connector)
    with pytest.raises(Exception) as info:
        connector.count("x")
    assert "secret" not in str(info.value)
