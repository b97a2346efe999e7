"""The test helper itself: a Milvus Lite server process that answers, survives SIGKILL + restart."""

from __future__ import annotations

import uuid

import pytest
from pymilvus import DataType, MilvusClient

from vecbridge.testing.milvus_server import MilvusLiteServer


def _client(uri: str) -> MilvusClient:
    return MilvusClient(uri=uri, alias=f"t-{uuid.uuid4().hex}")


def _create(client: MilvusClient, name: str) -> None:
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    params = client.prepare_index_params()
    params.add_index("v", index_type="FLAT", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=params, consistency_level="Strong")


def _count(client: MilvusClient, name: str) -> int:
    return int(client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])


def test_kill_restart_keeps_acknowledged_rows(milvus_server_factory):
    server = milvus_server_factory()
    assert server.uri.startswith("http://127.0.0.1:")
    client = _client(server.uri)
    _create(client, "c")
    assert client.upsert("c", [{"id": str(i), "v": [1.0, 0.0]} for i in range(50)])["upsert_count"] == 50
    port = server.port
    server.kill()
    assert not server.running
    with pytest.raises(Exception, match="(?i)connect|unavailable"):
        client.query("c", filter="", output_fields=["count(*)"], retry_times=0)
    server.restart()
    assert server.port == port and server.running
    assert _count(client, "c") == 50  # the same client reconnects to the same port and database
    client.close()


def test_context_manager_stops(tmp_path):
    with MilvusLiteServer(tmp_path / "cm.db") as server:
        client = _client(server.uri)
        assert client.list_collections() == []
        client.close()
    assert not server.running
    with pytest.raises(Exception):  # noqa: B017 - any connection error from the stopped server
        _client(server.uri).list_collections(timeout=2)
