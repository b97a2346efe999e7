"""Collection state on Elasticsearch: records of ``vecbridge.connectors.state_store`` in one store-wide index.

The index ``vecbridge-state`` (created on the first state write, ``dynamic: strict``) holds one
document per record, ``_id`` = the record key: ``collection``, ``version`` (keywords), ``part``
(integer) and ``data`` (``text`` with ``index: false``: kept in ``_source`` only, never analysed).
State writes refresh the index so the next read sees them; parts are fetched with ``mget``
(real-time).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from vecbridge.connectors.state_store import StateRecord
from vecbridge.schemas import ConnectorError

STATE_INDEX = "vecbridge-state"
PART_CHARS = 1_000_000  # one ~1 MB document per part
DOCS_PER_CALL = 8
MAX_POINTERS = 10_000  # the default max_result_window
MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "collection": {"type": "keyword"},
        "version": {"type": "keyword"},
        "part": {"type": "integer"},
        "data": {"type": "text", "index": False},
    },
}


class ElasticsearchStateRecords:
    """``StateRecords`` on an ``Elasticsearch`` client."""

    def __init__(self, client: Elasticsearch, index: str = STATE_INDEX) -> None:
        self.client = client
        self.index = index

    def _exists(self) -> bool:
        return bool(self.client.indices.exists(index=self.index))

    def _create(self) -> None:
        try:
            self.client.indices.create(index=self.index, mappings=MAPPING)
        except ApiError as exc:
            if exc.error != "resource_already_exists_exception":  # else another process created it first
                raise

    def insert(self, records: Sequence[StateRecord]) -> None:
        if not self._exists():
            self._create()
        for start in range(0, len(records), DOCS_PER_CALL):
            operations: list[dict[str, Any]] = []
            for r in records[start : start + DOCS_PER_CALL]:
                operations.append({"create": {"_index": self.index, "_id": r.key}})
                operations.append({"collection": r.collection, "version": r.version, "part": r.part, "data": r.data})
            resp = self.client.bulk(operations=operations, refresh=True)
            if resp.get("errors"):
                errors = [item["create"]["error"] for item in resp["items"] if "error" in item["create"]]
                raise ConnectorError(f"writing state records to index {self.index!r} failed: {errors[:3]}")

    def pointers(self, collection: str) -> list[StateRecord]:
        if not self._exists():
            return []
        query = {"bool": {"filter": [{"term": {"collection": collection}}, {"term": {"part": -1}}]}}
        resp = self.client.search(index=self.index, query=query, size=MAX_POINTERS)
        return [_record(hit["_id"], hit["_source"]) for hit in resp["hits"]["hits"]]

    def get(self, keys: Sequence[str]) -> dict[str, StateRecord]:
        if not keys or not self._exists():
            return {}
        found: dict[str, StateRecord] = {}
        for start in range(0, len(keys), DOCS_PER_CALL):
            resp = self.client.mget(index=self.index, ids=list(keys[start : start + DOCS_PER_CALL]))
            found.update((d["_id"], _record(d["_id"], d["_source"])) for d in resp["docs"] if d.get("found"))
        return found

    def _delete(self, filters: list[dict[str, Any]]) -> None:
        self.client.delete_by_query(
            index=self.index,
            query={"bool": {"filter": filters}},
            refresh=True,
            conflicts="proceed",
        )

    def delete_versions(self, collection: str, versions: Sequence[str]) -> None:
        if versions and self._exists():
            self._delete([{"term": {"collection": collection}}, {"terms": {"version": list(versions)}}])

    def delete_collection(self, collection: str) -> None:
        if self._exists():
            self._delete([{"term": {"collection": collection}}])


def _record(key: str, source: dict[str, Any]) -> StateRecord:
    return StateRecord(key, source["collection"], source["version"], int(source["part"]), source["data"])
