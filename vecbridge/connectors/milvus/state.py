"""Collection state on Milvus: records of ``vecbridge.connectors.state_store`` in one store-wide collection.

The collection ``vecbridge_state`` (created on the first state write) holds one row per record:
``key`` (primary), ``collection``, ``version``, ``part``, ``data`` (VARCHAR, at most 65,535 bytes:
parts are cut at ``PART_CHARS`` ASCII characters) and ``vector``, a 2-dim dummy FLOAT_VECTOR
because Milvus needs a vector field in every collection.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pymilvus import DataType, MilvusClient

from vecbridge.connectors.milvus.calls import NO_DRIVER_RETRY  # the connector retries (``_call``)
from vecbridge.connectors.state_store import StateRecord

STATE_COLLECTION = "vecbridge_state"
PART_CHARS = 60_000  # ASCII, below the 65,535-byte VARCHAR limit
ROWS_PER_CALL = 16  # ~1 MB per insert / query
_FIELDS = ["key", "collection", "version", "part", "data"]
_DUMMY = [1.0, 0.0]


def _quote(value: str) -> str:
    """A Milvus string literal (JSON escaping is what the Milvus expression parser reads)."""
    return json.dumps(value)


class MilvusStateRecords:
    """``StateRecords`` on a ``MilvusClient`` (the state collection has Strong consistency)."""

    def __init__(self, client: Any, name: str = STATE_COLLECTION) -> None:
        self.client = client
        self.name = name
        self._ready = False

    def _exists(self) -> bool:
        if not self._ready and self.client.has_collection(self.name, **NO_DRIVER_RETRY):
            self.client.load_collection(self.name, **NO_DRIVER_RETRY)
            self._ready = True
        return self._ready

    def _create(self) -> None:
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("collection", DataType.VARCHAR, max_length=512)
        schema.add_field("version", DataType.VARCHAR, max_length=64)
        schema.add_field("part", DataType.INT64)
        schema.add_field("data", DataType.VARCHAR, max_length=65535)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=len(_DUMMY))
        params = self.client.prepare_index_params()
        params.add_index("vector", index_type="FLAT", metric_type="L2")
        try:
            self.client.create_collection(self.name, schema=schema, index_params=params, consistency_level="Strong")
        except Exception:
            if not self.client.has_collection(self.name):  # else another process created it first
                raise
        self.client.load_collection(self.name)
        self._ready = True

    def insert(self, records: Sequence[StateRecord]) -> None:
        if not self._exists():
            self._create()
        rows = [
            {
                "key": r.key,
                "collection": r.collection,
                "version": r.version,
                "part": r.part,
                "data": r.data,
                "vector": _DUMMY,
            }
            for r in records
        ]
        for start in range(0, len(rows), ROWS_PER_CALL):
            self.client.insert(self.name, rows[start : start + ROWS_PER_CALL], **NO_DRIVER_RETRY)

    def _query(self, expr: str) -> list[StateRecord]:
        rows = self.client.query(self.name, filter=expr, output_fields=_FIELDS, **NO_DRIVER_RETRY)
        return [StateRecord(r["key"], r["collection"], r["version"], int(r["part"]), r["data"]) for r in rows]

    def pointers(self, collection: str) -> list[StateRecord]:
        if not self._exists():
            return []
        return self._query(f"collection == {_quote(collection)} and part == -1")

    def get(self, keys: Sequence[str]) -> dict[str, StateRecord]:
        if not self._exists():
            return {}
        found: dict[str, StateRecord] = {}
        for start in range(0, len(keys), ROWS_PER_CALL):
            chunk = list(keys[start : start + ROWS_PER_CALL])
            found.update((r.key, r) for r in self._query(f"key in {json.dumps(chunk)}"))
        return found

    def delete_versions(self, collection: str, versions: Sequence[str]) -> None:
        if versions and self._exists():
            expr = f"collection == {_quote(collection)} and version in {json.dumps(list(versions))}"
            self.client.delete(self.name, filter=expr, **NO_DRIVER_RETRY)

    def delete_collection(self, collection: str) -> None:
        if self._exists():
            self.client.delete(self.name, filter=f"collection == {_quote(collection)}", **NO_DRIVER_RETRY)
