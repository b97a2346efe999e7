"""Ingestion: stream JSONL / CSV / Parquet / documents into an index, losslessly and resumably.

``ingest(index, "docs.jsonl", dead_letter=..., checkpoint=..., resume=...)`` reads records with
their positions, turns bad ones into dead-letter rows (never tracebacks, never silence), encodes
batch n+1 while a writer thread writes batch n, accounts for every document
(``read == written + failed + skipped``) and checkpoints each acknowledged batch.

Importing this package is cheap (``import vecbridge`` does it, see ``vecbridge/__init__.py``): its
names resolve from their modules on first use, and ``ingest`` imports the pipeline when called.
The attribute ``vecbridge.ingest`` is the function, so reach the modules with ``from`` imports
(``from vecbridge.ingest.report import IngestReport``), not ``vecbridge.ingest.report.IngestReport``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # what type checkers see; at run time the names resolve in __getattr__
    from vecbridge.ingest.checkpoint import Checkpoint, file_identity
    from vecbridge.ingest.chunking import Chunker, encoder_tokenizer
    from vecbridge.ingest.pipeline import QUEUE_SIZE, Pipeline, pipeline_depth
    from vecbridge.ingest.records import TEXT_FIELDS, InputError, Record, parse_row, read_jsonl, read_jsonl_records
    from vecbridge.ingest.report import IngestError, IngestInterrupted, IngestReport, OnError
    from vecbridge.ingest.sources import Cursor, FileSource, InputFormat, IterableSource, open_source

# name -> module of this package that defines it
_LAZY: dict[str, str] = {
    **dict.fromkeys(["Checkpoint", "file_identity"], "vecbridge.ingest.checkpoint"),
    **dict.fromkeys(["Chunker", "encoder_tokenizer"], "vecbridge.ingest.chunking"),
    **dict.fromkeys(["QUEUE_SIZE", "Pipeline", "pipeline_depth"], "vecbridge.ingest.pipeline"),
    **dict.fromkeys(
        ["TEXT_FIELDS", "InputError", "Record", "parse_row", "read_jsonl", "read_jsonl_records"],
        "vecbridge.ingest.records",
    ),
    **dict.fromkeys(["IngestError", "IngestInterrupted", "IngestReport", "OnError"], "vecbridge.ingest.report"),
    **dict.fromkeys(
        ["Cursor", "FileSource", "InputFormat", "IterableSource", "open_source"], "vecbridge.ingest.sources"
    ),
}

__all__ = [  # _LAZY's names and ingest (tests/ingest/test_package.py checks)
    "QUEUE_SIZE",
    "TEXT_FIELDS",
    "Checkpoint",
    "Chunker",
    "Cursor",
    "FileSource",
    "IngestError",
    "IngestInterrupted",
    "IngestReport",
    "InputError",
    "InputFormat",
    "IterableSource",
    "OnError",
    "Pipeline",
    "Record",
    "encoder_tokenizer",
    "file_identity",
    "ingest",
    "open_source",
    "parse_row",
    "pipeline_depth",
    "read_jsonl",
    "read_jsonl_records",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vecbridge.ingest' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def ingest(
    index: Any,
    source: Any,
    *,
    format: Optional[str] = None,
    on_error: OnError | str = "skip",
    dead_letter: Optional[str | Path] = None,
    checkpoint: Optional[str | Path] = None,
    resume: bool = False,
    chunk_tokens: Optional[int] = None,
    overlap: int = 0,
    batch_size: Optional[int] = None,
    progress: bool = False,
    total: Optional[int] = None,
    queue_size: Optional[int] = None,
    encode_missing: bool = True,
) -> IngestReport:
    """Ingest ``source`` (a JSONL/CSV/Parquet path, or an iterable of ``Document`` or dicts) into a
    ``HybridIndex``.

    - ``on_error="skip"`` dead-letters bad records and goes on; ``"stop"`` stops after the batch
      holding the first one (``report.stopped_at``). Rows go to ``dead_letter`` (JSONL) if given.
    - ``checkpoint``: a file updated atomically after every acknowledged batch; ``resume=True``
      continues after it, refusing another file. Raises ``IngestError`` (store unavailable, with the
      checkpoint intact) or ``IngestInterrupted`` (Ctrl-C, a ``KeyboardInterrupt``).
    - ``chunk_tokens``/``overlap``: split documents into ``<id>#<n>`` chunks with ``parent_id`` in
      metadata, counting tokens with the dense encoder's tokenizer (whitespace without one); chunks
      of an earlier, longer version of a document (``<id>#<n>`` and above) are deleted.
    - ``queue_size``: encoded batches waiting for the writer (default ``pipeline.QUEUE_SIZE``).
    - Documents may bring their vectors (``VectorDocument``): those are written as given, and only
      the missing ones encoded (``encode_missing=False``: stored without them). A given vector the
      collection cannot store (dimension, field) fails that document alone.
    """
    from vecbridge.ingest.chunking import Chunker, encoder_tokenizer
    from vecbridge.ingest.pipeline import QUEUE_SIZE, Pipeline
    from vecbridge.ingest.report import OnError
    from vecbridge.ingest.sources import open_source
    from vecbridge.schemas import ConfigurationError

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
    from vecbridge.ingest.sync import stale_chunks_deleted, writer

    write = writer(index)
    if chunker is not None:  # a document re-chunked into fewer chunks leaves none behind
        write = stale_chunks_deleted(write, index)
    pipeline = Pipeline(
        open_source(source, format, total),
        lambda documents: index.encode_documents(documents, encode_missing=encode_missing),
        write,
        check=index.check_vectors,
        collection=collection,
        batch_size=batch_size or index.batch_size,
        on_error=mode,
        dead_letter=None if dead_letter is None else Path(dead_letter),
        checkpoint=None if checkpoint is None else Path(checkpoint),
        resume=resume,
        chunker=chunker,
        progress=progress,
        queue_size=QUEUE_SIZE if queue_size is None else queue_size,
    )
    return pipeline.run()


def _dense_encoder(index: Any) -> Any:
    return next((r.encoder for r in index.retrievers.values() if getattr(r.kind, "value", r.kind) == "dense"), None)
