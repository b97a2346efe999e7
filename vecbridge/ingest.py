"""Ingestion: read documents from JSONL, encode and write in batches, never lose a failure silently."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Optional

from pydantic import ValidationError

from schemas import Document, IndexBatch, VecbridgeError, WriteError

log = logging.getLogger(__name__)


class InputError(VecbridgeError):
    """An input file has a bad line; the message names the file, the line and the field."""


@dataclass
class IngestReport:
    """What an ingestion wrote, and every id it could not write with the reason."""

    written: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def read_jsonl(path: str | Path, text_fields: tuple[str, ...] = ("title", "text")) -> Iterator[Document]:
    """Documents from JSONL: ``id`` (or BEIR ``_id``), ``text`` (``title`` is prepended when present),
    ``metadata`` (object) — other top-level scalar fields are kept as metadata too."""
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield _document(json.loads(line), text_fields)
            except (json.JSONDecodeError, ValidationError, ValueError, TypeError) as exc:
                raise InputError(f"{path}:{number}: {exc}") from exc


def _document(row: Any, text_fields: tuple[str, ...]) -> Document:
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    doc_id = row.get("id", row.get("_id"))
    if doc_id is None:
        raise ValueError("missing field 'id' (or '_id')")
    parts = [row[f] for f in text_fields if isinstance(row.get(f), str) and row[f].strip()]
    if "text" not in row:
        raise ValueError(f"document {doc_id!r}: missing field 'text'")
    metadata = dict(row.get("metadata") or {})
    for key, value in row.items():
        if key not in {"id", "_id", "metadata", *text_fields} and key not in metadata:
            metadata[key] = value
    return Document(id=str(doc_id), text="\n".join(parts), metadata=metadata)


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def write_batches(
    documents: Iterable[Document],
    batch_size: int,
    encode: Callable[[list[Document]], IndexBatch],
    write: Callable[[IndexBatch], int],
    progress: bool = False,
    total: Optional[int] = None,
) -> IngestReport:
    """Encode + write each batch; a failing batch is recorded (per id) and the rest go on."""
    report = IngestReport()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="ingesting", unit="doc")
    try:
        for chunk in batched(documents, batch_size):
            try:
                report.written += write(encode(chunk))
            except WriteError as exc:
                report.written += len(chunk) - len(exc.failed)
                report.failed.update(exc.failed)
                log.error("%d documents failed to write: %s", len(exc.failed), exc)
            except VecbridgeError as exc:
                report.failed.update({d.id: f"{type(exc).__name__}: {exc}" for d in chunk})
                log.error("batch of %d documents failed: %s", len(chunk), exc)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    return report
