"""The Ray actor that encodes and writes: one per worker, models loaded once in ``__init__``.

Each Ray batch of records goes through the in-process building blocks: ``BatchBuilder`` (the
duplicate rule), ``encode_batch``, ``write_exactly`` (exact accounting on ``WriteError``) and
``Batch.dead_letters``. The actor returns one ``batch`` row (read / written / encoded counts) and
one ``dead`` row per dead letter; the driver adds them up. Writing is an upsert by id, so a batch
Ray retries after a worker died (possibly after it wrote) is stored once and counted once."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from vecbridge.config import build_index, open_connector
from vecbridge.distributed.ranges import row_record
from vecbridge.ingest.batching import BatchBuilder, encode_batch
from vecbridge.ingest.writing import write_exactly
from vecbridge.schemas import IndexBatch, Settings
from vecbridge.state import CollectionState

OUTCOME_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("line", pa.int64()),
        ("offset", pa.int64()),
        ("id", pa.string()),
        ("stage", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),
        ("read", pa.int64()),
        ("written", pa.int64()),
        ("encoded", pa.int64()),
    ]
)


class EncodeWriter:
    """Encoders rebuilt from the collection's stored ``state`` (BM25 statistics shipped by the
    driver, never refitted here) and a connector of its own, on ``collection``."""

    def __init__(self, settings: Settings, state: dict[str, Any], collection: str) -> None:
        stored = CollectionState.from_dict(state, collection)
        filterable = {key: kind.value for key, kind in stored.spec.filterable.items()}
        self.collection = collection
        self.index = build_index(
            open_connector(settings), settings, collection, filterable, stored.encoders, metric=stored.spec.metric
        )

    def __call__(self, table: pa.Table) -> pa.Table:
        records = sorted((row_record(row) for row in table.to_pylist()), key=lambda record: record.line)
        builder = BatchBuilder(len(records) or 1)
        for record in records:
            builder.add(record)
        batch = builder.take()
        if batch is None:
            return OUTCOME_SCHEMA.empty_table()
        encode_batch(batch, self.index.encode_documents)
        written, failed = (0, {}) if batch.encoded is None else write_exactly(self.write, batch.encoded)
        rows: list[dict[str, Any]] = [{"kind": "dead", **row} for row in batch.dead_letters(failed)]
        encoded = len(batch.items) if batch.encoded is not None else 0
        rows.append(
            {"kind": "batch", "line": batch.cursor.line, "read": batch.size, "written": written, "encoded": encoded}
        )
        return pa.Table.from_pylist(rows, schema=OUTCOME_SCHEMA)

    def write(self, batch: IndexBatch) -> int:
        return self.index.write_batch(batch)  # BM25 statistics count what the store acknowledged

    def __del__(self) -> None:
        index = getattr(self, "index", None)
        if index is not None:
            index.connector.close()
