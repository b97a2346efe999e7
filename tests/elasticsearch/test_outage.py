"""Store outages with the noida-db Elasticsearch EMULATOR as a real process on its own port.

The emulator is stopped with SIGINT (on SIGKILL it loses ~1 s of acknowledged writes by design,
unlike a real server) and restarted on the same port and data directory."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from vecbridge.connectors.elasticsearch import ElasticsearchConnector
from vecbridge.schemas import CollectionSpec, Document, IndexBatch, ScalarType, SparseVector, StoreUnavailableError
from vecbridge.testing.es_emulator import EmulatorProcess, noida_binary

pytestmark = pytest.mark.skipif(noida_binary() is None, reason="noida-db (ES emulator) not installed")
SPEC = CollectionSpec(name="outage", dense_dim=4, filterable={"n": ScalarType.INT})


@pytest.fixture
def emulator(tmp_path: Path):
    emu = EmulatorProcess(tmp_path).start()
    yield emu
    emu.stop()


def _batch(start: int, size: int) -> IndexBatch:
    rng = np.random.default_rng(start)
    dense = rng.random((size, 4)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    return IndexBatch(
        documents=[Document(id=f"d{i}", text=f"t{i}", metadata={"n": i}) for i in range(start, start + size)],
        dense=dense,
        sparse={"sparse": [SparseVector(indices=[i % 7], values=[1.0]) for i in range(size)]},
    )


def test_stopped_and_restarted_within_budget_loses_nothing(emulator, caplog):
    batches, size = 10, 25
    connector = ElasticsearchConnector(url=emulator.url, max_attempts=10, initial_backoff=0.25, max_backoff=2.0)
    connector.ensure_collection(SPEC)
    restarter = None
    for b in range(batches):
        if b == 4:
            emulator.stop()
            restarter = threading.Timer(1.5, emulator.start)
            restarter.start()
        assert connector.upsert("outage", _batch(b * size, size)) == size
    assert restarter is not None
    restarter.join(timeout=60)
    assert any("retrying" in r.getMessage() for r in caplog.records), "the outage was never seen"
    assert connector.count("outage") == batches * size
    ids = [f"d{i}" for i in range(batches * size)]
    assert [d.id for d in connector.get("outage", ids)] == ids
    connector.close()


def test_store_kept_down_raises_one_short_error_quickly(emulator):
    connector = ElasticsearchConnector(url=emulator.url, max_attempts=3, initial_backoff=0.1, max_backoff=0.5)
    connector.ensure_collection(SPEC)
    connector.upsert("outage", _batch(0, 10))
    emulator.stop()
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as info:
        connector.upsert("outage", _batch(10, 10))
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert "\n" not in message and len(message) < 600, message
    assert emulator.url in message and "bulk" in message and "3 times" in message
    assert info.value.written == 0 and info.value.__cause__ is None
    with pytest.raises(StoreUnavailableError, match="count"):
        connector.count("outage")
    emulator.start()
    assert connector.count("outage") == 10
    connector.close()
