"""Source records: one per input line / row / item, with its position, raw text and either a
``Document`` or the reason it is not one (naming the field). Readers never raise on bad input."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from pydantic import ValidationError

from vecbridge.schemas import ConfigurationError, Document, VecbridgeError, jsontext

TEXT_FIELDS = ("title", "text")
_ID_FIELDS = ("id", "_id")


@dataclass(frozen=True)
class Record:
    """One input record. ``line`` is the 1-based line (JSONL), data row (CSV, Parquet) or item
    number (iterables); ``offset``/``end`` the byte span of a JSONL line (``end`` is where the
    next record starts, the resume point). Exactly one of ``document`` / ``error`` is set."""

    line: int
    raw: Optional[str]
    document: Optional[Document] = None
    error: Optional[str] = None
    doc_id: Optional[str] = None
    offset: Optional[int] = None
    end: Optional[int] = None


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _doc_id(row: Mapping[str, Any]) -> tuple[Optional[str], Optional[str]]:
    """``(id, None)`` or ``(None, reason)``."""
    key = next((k for k in _ID_FIELDS if k in row), None)
    if key is None:
        return None, "missing field 'id' (or '_id')"
    value = row[key]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None, f"field {key!r} must be a string or an integer, got {_describe(value)}"
    if isinstance(value, str) and not value.strip():
        return None, f"field {key!r} is empty"
    return str(value), None


def row_id(row: Any) -> Optional[str]:
    """The id an input row (``Document`` or mapping) is written under, as ``ingest`` reads it; None if it has none."""
    if isinstance(row, Document):
        return row.id
    return _doc_id(row)[0] if isinstance(row, Mapping) else None


def _validation_reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "document"
    return f"field {where!r}: {first['msg']} (got {_describe(first.get('input'))})"


def parse_row(
    row: Any, text_fields: tuple[str, ...] = TEXT_FIELDS
) -> tuple[Optional[Document], Optional[str], Optional[str]]:
    """``(document, None, id)`` or ``(None, reason, id-if-known)`` for one decoded JSON/CSV/Parquet row.

    ``id`` (or BEIR ``_id``) and ``text`` are required; ``title`` is prepended to the text when
    present; ``metadata`` must be an object; other top-level fields are kept as metadata too."""
    if not isinstance(row, Mapping):
        return None, f"expected a JSON object, got {type(row).__name__}", None
    doc_id, reason = _doc_id(row)
    if reason:
        return None, reason, None
    if "text" not in row:
        return None, "missing field 'text'", doc_id
    for name in text_fields:
        value = row.get(name)
        if not isinstance(value, str) and (value is not None or name == "text"):
            return None, f"field {name!r} must be a string, got {_describe(value)}", doc_id
    metadata = row.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        return None, f"field 'metadata' must be an object, got {_describe(metadata)}", doc_id
    metadata = dict(metadata or {})
    for key, value in row.items():
        if key not in {*_ID_FIELDS, "metadata", *text_fields} and key not in metadata:
            metadata[key] = value
    parts = [row[f] for f in text_fields if isinstance(row.get(f), str) and row[f].strip()]
    try:
        return Document(id=doc_id, text="\n".join(parts), metadata=metadata), None, doc_id
    except ValidationError as exc:
        return None, _validation_reason(exc), doc_id


def _record(line: int, raw: Optional[str], row: Any, text_fields: tuple[str, ...], **span: Optional[int]) -> Record:
    document, error, doc_id = parse_row(row, text_fields)
    return Record(line=line, raw=raw, document=document, error=error, doc_id=doc_id, **span)


_BOM = b"\xef\xbb\xbf"


def read_jsonl_records(
    path: Any, text_fields: tuple[str, ...] = TEXT_FIELDS, start_line: int = 0, start_offset: int = 0
) -> Iterator[Record]:
    """Stream a JSONL file (binary, so byte offsets are exact); blank lines are not records.

    ``start_line``/``start_offset`` resume after a checkpoint (lines already consumed, byte offset)."""
    with open(path, "rb") as handle:
        handle.seek(start_offset)
        offset, number = start_offset, start_line
        for raw in handle:
            number += 1
            start, offset = offset, offset + len(raw)
            body = raw[len(_BOM) :] if start == 0 and raw.startswith(_BOM) else raw
            if not body.strip():
                continue
            span: dict[str, Any] = {"offset": start, "end": offset}
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                shown = body.decode("utf-8", "backslashreplace").rstrip("\r\n")
                reason = f"invalid UTF-8 at byte {exc.start} of line {number}: {exc.reason}"
                yield Record(line=number, raw=shown, error=reason, **span)
                continue
            text = text.rstrip("\r\n")
            try:
                row = jsontext.loads(text)
            except jsontext.JsonTextError as exc:
                yield Record(line=number, raw=text, error=str(exc), **span)
                continue
            yield _record(number, text, row, text_fields, **span)


def _first_bad_text(row: Mapping[str, Any]) -> Optional[str]:
    for key, value in row.items():
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return str(key)
    return None


def read_csv_records(path: Any, text_fields: tuple[str, ...] = TEXT_FIELDS, start_line: int = 0) -> Iterator[Record]:
    """Stream a CSV file with a header row; ``line`` counts data rows. Cells are strings (empty
    cells are left out); a ``metadata`` column is parsed as a JSON object. ``start_line`` skips rows."""
    import csv

    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:  # -sig: a spreadsheet's BOM
        reader = csv.DictReader(handle)
        for number, row in enumerate(reader, 1):
            if number <= start_line:
                continue
            raw = json.dumps(row, ensure_ascii=False, default=str)
            if None in row:
                yield Record(line=number, raw=raw, error=f"row has {len(row[None])} more cells than the header")
                continue
            bad = _first_bad_text(row)
            if bad is not None:
                yield Record(
                    line=number,
                    raw=raw.encode("utf-8", "backslashreplace").decode(),
                    error=f"invalid UTF-8 in column {bad!r}",
                )
                continue
            cells: dict[str, Any] = {k: v for k, v in row.items() if v not in ("", None) or k in ("id", "_id", "text")}
            if isinstance(cells.get("metadata"), str):
                try:
                    cells["metadata"] = jsontext.loads(cells["metadata"])
                except jsontext.JsonTextError as exc:
                    yield Record(line=number, raw=raw, error=f"column 'metadata': {exc}", doc_id=_doc_id(cells)[0])
                    continue
            yield _record(number, raw, cells, text_fields)


def read_parquet_records(
    path: Any, text_fields: tuple[str, ...] = TEXT_FIELDS, start_line: int = 0
) -> Iterator[Record]:
    """Stream a Parquet file (pyarrow) in row batches; ``line`` counts rows; ``start_line`` skips rows."""
    try:
        import pyarrow.parquet  # noqa: F401 - only to say how to install it when missing
    except ImportError as exc:  # pragma: no cover - pyarrow is a dependency of the parquet extra
        from vecbridge.schemas import ConfigurationError

        raise ConfigurationError("reading Parquet needs pyarrow: pip install 'vecbridge[parquet]'") from exc
    parquet = _parquet_file(path)
    groups: list[int] = []
    number = 0  # row groups wholly before start_line are skipped without decoding
    for group in range(parquet.metadata.num_row_groups):
        rows = parquet.metadata.row_group(group).num_rows
        if groups or number + rows > start_line:
            groups.append(group)
        else:
            number += rows
    if not groups:
        return
    for batch in parquet.iter_batches(batch_size=1024, row_groups=groups):
        if number + batch.num_rows <= start_line:
            number += batch.num_rows
            continue
        for row in batch.to_pylist():
            number += 1
            if number <= start_line:
                continue
            row = {k: v for k, v in row.items() if v is not None or k in ("id", "_id", "text")}
            yield _record(number, json.dumps(row, ensure_ascii=False, default=str), row, text_fields)


def _parquet_file(path: Any) -> Any:
    """``pyarrow.parquet.ParquetFile(path)``; a file that is not Parquet is refused naming it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        from vecbridge.schemas import ConfigurationError

        raise ConfigurationError(f"{path}: not a readable Parquet file ({exc})") from None


def parquet_rows(path: Any) -> int:
    return int(_parquet_file(path).metadata.num_rows)


def document_records(items: Iterable[Any], text_fields: tuple[str, ...] = TEXT_FIELDS) -> Iterator[Record]:
    """Records from ``Document`` objects (or dicts shaped like a JSONL row); ``line`` is the 1-based item number."""
    for number, item in enumerate(items, 1):
        if isinstance(item, Document):
            yield Record(line=number, raw=None, document=item, doc_id=item.id)
        elif isinstance(item, Mapping):
            yield _record(number, json.dumps(item, ensure_ascii=False, default=str), item, text_fields)
        else:
            reason = f"item {number}: expected a Document or a mapping, got {type(item).__name__}"
            yield Record(line=number, raw=repr(item)[:1000], error=reason)


class InputError(VecbridgeError):
    """An input file has a bad line; the message names the file, the line and the field."""


def read_jsonl(path: str | Path, text_fields: tuple[str, ...] = TEXT_FIELDS) -> Iterator[Document]:
    """Documents from a trusted JSONL file (datasets, the bundled corpus); the first bad line raises
    ``InputError`` naming ``file:line`` and the field. ``ingest`` is the lenient, dead-lettering path."""
    for record in read_jsonl_records(path, text_fields):
        if record.document is None:
            raise InputError(f"{path}:{record.line}: {record.error}")
        yield record.document


def valid_texts(records: Iterable[Record], where: Path) -> Iterator[str]:
    """The text of every valid document of ``records`` (a new collection's BM25 statistics are fitted
    on them); ``ConfigurationError`` naming ``where`` and the first record's reason when there is none."""
    first_error: Optional[Record] = None
    found = False
    for record in records:
        if record.document is not None:
            found = True
            yield record.document.text
        elif first_error is None:
            first_error = record
    if not found:
        why = f"; line {first_error.line}: {first_error.error}" if first_error is not None else " (it is empty)"
        raise ConfigurationError(f"{where}: no valid document to fit BM25 statistics on{why}")
