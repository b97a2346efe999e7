"""Milvus write accounting past the client-side checks: chunks the server rejects are split until
the rejected rows are isolated; transient errors are retried; nothing is counted twice."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vecbridge.connectors.milvus import MilvusConnector
from vecbridge.connectors.milvus.calls import Capabilities
from vecbridge.schemas import CollectionSpec, Document, IndexBatch, ScalarType, SparseVector, WriteError

SPEC = CollectionSpec(name="w", dense_dim=4, filterable={"year": ScalarType.INT})


def _batch(ids: list[str]) -> IndexBatch:
    return IndexBatch(
        documents=[Document(id=i, text=i, metadata={"year": n}) for n, i in enumerate(ids)],
        dense=np.random.default_rng(0).random((len(ids), 4)),
        sparse={"sparse": [SparseVector(indices=[1], values=[1.0])] * len(ids)},
    )


def test_server_rejected_rows_are_isolated_by_the_real_engine(milvus_server):
    """Milvus Lite's engine fails a whole upsert holding an id with ``'`` ("internal error").
    With the client-side check off, the connector bisects the chunk and writes everything else."""
    with MilvusConnector(milvus_server.uri, batch_size=8) as connector:
        connector.ensure_collection(SPEC)
        caps = connector.capabilities
        assert caps.lite  # learned from the server, not from the http:// uri
        connector._caps = Capabilities(engine="test", lite=False)  # skip the client check
        ids = [f"d{i}" for i in range(20)]
        ids[3], ids[12], ids[13] = "it's", "o'k", "x'"
        with pytest.raises(WriteError) as info:
            connector.upsert("w", _batch(ids))
        assert set(info.value.failed) == {"it's", "o'k", "x'"}
        assert all("rejected by Milvus" in reason for reason in info.value.failed.values())
        assert info.value.written == 17
        connector._caps = caps
        assert connector.count("w") == 17
        assert len(connector.get("w", ids)) == 17
        connector.drop_collection("w")


class _FlakyClient:
    """Stands in for MilvusClient.upsert: rejects chunks holding a bad id, fails transiently once."""

    def __init__(self, bad: set[str], transient_on_call: int):
        self.bad, self.transient_on_call, self.calls, self.rows = bad, transient_on_call, 0, {}

    def upsert(self, collection: str, rows: list[dict[str, Any]], **kwargs: Any) -> dict[str, int]:
        self.calls += 1
        if self.calls == self.transient_on_call:
            raise ConnectionError("connection refused")
        if any(r["id"] in self.bad for r in rows):
            raise ValueError("rejected")
        self.rows.update({r["id"]: r for r in rows})
        return {"upsert_count": len(rows)}


def test_bisect_and_transient_retry_with_exact_counts(tmp_path):
    connector = MilvusConnector(str(tmp_path / "x.db"), batch_size=5, retry_max_wait=5)
    client = _FlakyClient({"d2", "d9", "d10", "d22"}, transient_on_call=2)
    connector._client, connector._caps = client, Capabilities(engine="fake", lite=True)
    connector._specs["w"] = SPEC
    ids = [f"d{i}" for i in range(23)]
    with pytest.raises(WriteError) as info:
        connector.upsert("w", _batch(ids))
    assert set(info.value.failed) == {"d2", "d9", "d10", "d22"}
    assert info.value.written == 19 and set(client.rows) == set(ids) - {"d2", "d9", "d10", "d22"}
    connector._client = None  # nothing real to close
