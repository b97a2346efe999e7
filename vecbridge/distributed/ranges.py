"""The read side of Ray ingestion: split a file into ranges, read each range with vecbridge's own
record readers (positions, per-record validation, reasons naming the field) in a Ray task.

JSONL splits at line boundaries every ``RANGE_BYTES`` (the driver counts the newlines before each
cut, so line numbers are the file's); Parquet splits by row group; CSV is one range (a quoted cell
may hold a newline, so a byte cut is not safe). Records travel as Arrow rows (``RECORD_SCHEMA``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Optional

import pyarrow as pa

from vecbridge.ingest.records import Record
from vecbridge.ingest.sources import Cursor, FileSource, InputFormat
from vecbridge.schemas import Document

RANGE_BYTES = 64 << 20
"""Target size of one JSONL read range (one Ray read task)."""

ROWS_PER_TABLE = 1024

RECORD_SCHEMA = pa.schema(
    [
        ("line", pa.int64()),
        ("offset", pa.int64()),
        ("raw", pa.string()),
        ("error", pa.string()),
        ("doc_id", pa.string()),
        ("document", pa.string()),
    ]
)

_CHUNK = 1 << 20


def _jsonl_ranges(path: str, range_bytes: int) -> list[dict[str, Any]]:
    """Byte ranges ``[start, stop)`` cut just after a newline, with the lines before ``start``."""
    ranges: list[dict[str, Any]] = []
    start = start_line = pos = lines = 0
    target = range_bytes
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            while target < pos + len(chunk):
                i = chunk.find(b"\n", max(target - pos, 0))
                if i < 0:
                    break  # the next newline is in a later chunk
                cut = pos + i + 1
                ranges.append({"start": start, "stop": cut, "start_line": start_line})
                start, start_line = cut, lines + chunk.count(b"\n", 0, i + 1)
                target = cut + range_bytes
            lines += chunk.count(b"\n")
            pos += len(chunk)
    if start < pos or not ranges:
        ranges.append({"start": start, "stop": None, "start_line": start_line})
    return ranges


def _parquet_ranges(path: str) -> list[dict[str, Any]]:
    """One range per row group: rows ``(start_line, stop]`` (1-based, as ``Record.line``)."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    ranges, line = [], 0
    for group in range(meta.num_row_groups):
        rows = meta.row_group(group).num_rows
        ranges.append({"start": 0, "stop": line + rows, "start_line": line})
        line += rows
    return ranges or [{"start": 0, "stop": None, "start_line": 0}]


def plan_ranges(source: FileSource, pieces: int = 1, range_bytes: int = RANGE_BYTES) -> list[dict[str, Any]]:
    """Read ranges of ``source``: JSONL in at least ``pieces`` ranges of at most ``range_bytes``.
    Each a dict ``path``, ``format``, ``start`` (JSONL byte offset), ``stop`` (JSONL: byte offset;
    CSV/Parquet: last line; None: to the end), ``start_line``."""
    path = str(source.path.absolute())
    if source.format is InputFormat.JSONL:
        size = source.path.stat().st_size
        ranges = _jsonl_ranges(path, max(1, min(range_bytes, -(-size // max(pieces, 1)))))
    elif source.format is InputFormat.PARQUET:
        ranges = _parquet_ranges(path)
    else:
        ranges = [{"start": 0, "stop": None, "start_line": 0}]
    return [{"path": path, "format": source.format.value, **r} for r in ranges]


def read_range(spec: dict[str, Any]) -> Iterator[Record]:
    """The records of one range, read by ``FileSource`` from the range's start cursor."""
    source = FileSource(spec["path"], spec["format"])
    stop: Optional[int] = spec["stop"]
    jsonl = source.format is InputFormat.JSONL
    for record in source.records(Cursor(line=spec["start_line"], offset=spec["start"])):
        if stop is not None and ((record.offset or 0) >= stop if jsonl else record.line > stop):
            return
        yield record


def record_row(record: Record) -> dict[str, Any]:
    document = None if record.document is None else record.document.model_dump_json()
    return {
        "line": record.line,
        "offset": record.offset,
        "raw": record.raw,
        "error": record.error,
        "doc_id": record.doc_id,
        "document": document,
    }


def row_record(row: dict[str, Any]) -> Record:
    document = None if row["document"] is None else Document.model_validate_json(row["document"])
    return Record(
        line=row["line"],
        raw=row["raw"],
        document=document,
        error=row["error"],
        doc_id=row["doc_id"],
        offset=row["offset"],
    )


def read_ranges(batch: pa.Table) -> Iterator[pa.Table]:
    """Ray ``map_batches`` function: the records of each range in ``batch``, as Arrow tables."""
    for spec in batch.to_pylist():
        rows = []
        for record in read_range(spec):
            rows.append(record_row(record))
            if len(rows) == ROWS_PER_TABLE:
                yield pa.Table.from_pylist(rows, schema=RECORD_SCHEMA)
                rows = []
        if rows:
            yield pa.Table.from_pylist(rows, schema=RECORD_SCHEMA)
