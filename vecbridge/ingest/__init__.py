"""Ingestion: stream JSONL / CSV / Parquet / documents into an index, losslessly and resumably.

``ingest(index, "docs.jsonl", dead_letter=..., checkpoint=..., resume=...)`` reads records with
their positions, turns bad ones into dead-letter rows (never tracebacks, never silence), encodes
batch n+1 while a writer thread writes batch n, accounts for every document
(``read == written + failed + skipped``) and checkpoints each acknowledged batch."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

from vecbridge.schemas import ConfigurationError, Document, VecbridgeError
from vecbridge.ingest.checkpoint import Checkpoint, file_identity
from vecbridge.ingest.chunking import Chunker, encoder_tokenizer
from vecbridge.ingest.pipeline import QUEUE_SIZE, Pipeline, pipeline_depth
from vecbridge.ingest.records import TEXT_FIELDS, Record, parse_row, read_jsonl_records
from vecbridge.ingest.report import IngestError, IngestInterrupted, IngestReport, OnError
from vecbridge.ingest.sources import Cursor, FileSource, InputFormat, IterableSource, open_source

__all__ = [
    "Checkpoint", "Chunker", "Cursor", "FileSource", "IngestError", "IngestInterrupted", "IngestReport",
    "InputError", "InputFormat", "IterableSource", "OnError", "Pipeline", "Record", "file_identity", "ingest",
    "open_source", "parse_row", "pipeline_depth", "read_jsonl", "read_jsonl_records",
]


class InputError(VecbridgeError):
    """An input file has a bad line; the message names the file, the line and the field."""


def read_jsonl(path: str | Path, text_fields: tuple[str, ...] = TEXT_FIELDS) -> Iterator[Document]:
    """Documents from a trusted JSONL file (datasets, the bundled corpus); the first bad line raises
    ``InputError`` naming ``file:line`` and the field. ``ingest`` is the lenient, dead-lettering path."""
    for record in read_jsonl_records(path, text_fields):
        if record.document is None:
            raise InputError(f"{path}:{record.line}: {record.error}")
        yield record.document


def _dense_encoder(index: Any) -> Any:
    return next((r.encoder for r in index.retrievers.values() if getattr(r.kind, "value", r.kind) == "dense"), None)


def ingest(
    index: Any,
    source: Any,
    *,
    format: Optional[str] = None,
    on_error: OnError | str = OnError.SKIP,
    dead_letter: Optional[str | Path] = None,
    checkpoint: Optional[str | Path] = None,
    resume: bool = False,
    chunk_tokens: Optional[int] = None,
    overlap: int = 0,
    batch_size: Optional[int] = None,
    progress: bool = False,
    total: Optional[int] = None,
    queue_size: int = QUEUE_SIZE,
) -> IngestReport:
    """Ingest ``source`` (a JSONL/CSV/Parquet path, or an iterable of ``Document`` or dicts) into a
    ``HybridIndex``.

    - ``on_error="skip"`` dead-letters bad records and goes on; ``"stop"`` stops after the batch
      holding the first one (``report.stopped_at``). Rows go to ``dead_letter`` (JSONL) if given.
    - ``checkpoint``: a file updated atomically after every acknowledged batch; ``resume=True``
      continues after it, refusing another file. Raises ``IngestError`` (store unavailable, with the
      checkpoint intact) or ``IngestInterrupted`` (Ctrl-C, a ``KeyboardInterrupt``).
    - ``chunk_tokens``/``overlap``: split documents into ``<id>#<n>`` chunks with ``parent_id`` in
      metadata, counting tokens with the dense encoder's tokenizer (whitespace without one).
    """
    try:
        mode = OnError(getattr(on_error, "value", on_error))
    except ValueError:
        raise ConfigurationError(f"on_error={on_error!r}: choose one of {[m.value for m in OnError]}") from None
    chunker = None
    if chunk_tokens is not None:
        chunker = Chunker(chunk_tokens, overlap, tokenizer=encoder_tokenizer(_dense_encoder(index)))
    elif overlap:
        raise ConfigurationError("overlap needs chunk_tokens")
    collection = index.spec.name
    pipeline = Pipeline(
        open_source(source, format, total),
        index.encode_documents,
        getattr(index, "write_batch", None) or (lambda batch: index.connector.upsert(collection, batch)),
        collection=collection,
        batch_size=batch_size or index.batch_size,
        on_error=mode,
        dead_letter=None if dead_letter is None else Path(dead_letter),
        checkpoint=None if checkpoint is None else Path(checkpoint),
        resume=resume,
        chunker=chunker,
        progress=progress,
        queue_size=queue_size,
    )
    return pipeline.run()


class _CallableModule(types.ModuleType):
    """``vecbridge.ingest`` is this package and, called, the ``ingest`` function above, so that
    ``from vecbridge import ingest; ingest(index, path)`` works whichever of the two Python bound to
    the name ``vecbridge.ingest`` first (importing a subpackage rebinds its parent's attribute)."""

    def __call__(self, *args: Any, **kwargs: Any) -> IngestReport:
        return ingest(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
