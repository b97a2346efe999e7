"""Incremental sync: make a collection hold exactly what a source holds, encoding only what changed.

Everything sync needs lives in the store, in four reserved metadata keys of every document it writes:
``vb_source`` (the source key), ``vb_hash`` (content hash of text, metadata, encoders and chunking),
``vb_parent`` (the source document's id; chunks are ``<id>#<n>``) and ``vb_chunks`` (how many chunks
that version has). A run reads what the source key holds (one pass over the store, by a filter when
``vb_source`` is filterable), then streams the source:

- unchanged documents (every expected chunk stored with the same hash) are skipped unencoded;
- new and changed documents go through the ingestion pipeline (``Pipeline``: batches, exact write
  accounting, dead letters); once written, their stored chunks that the new version lacks are deleted;
- with ``cleanup="full"``, documents held under the source key but absent from the source are
  deleted after the whole source was read (never when a record could not be read and its id is
  unknown: it might be one of them).

Crash safety: every step is idempotent and the next run derives its plan from the store alone, so a
run killed at any moment and run again ends in the source's state: a version only partly written is
not "unchanged" (some chunk lacks its hash), chunks left over from an older version are deleted, and
nothing the source holds is deleted."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Optional

from pydantic import ValidationError

from vecbridge.ingest.chunking import Chunker, encoder_tokenizer
from vecbridge.ingest.pipeline import QUEUE_SIZE, Pipeline
from vecbridge.ingest.records import Record, _validation_reason
from vecbridge.ingest.report import IngestError, IngestReport, OnError
from vecbridge.ingest.sources import Cursor, open_source
from vecbridge.schemas import ConfigurationError, Document, WriteError, parse_filter

log = logging.getLogger(__name__)

SOURCE_KEY, HASH_KEY, PARENT_KEY, CHUNKS_KEY = "vb_source", "vb_hash", "vb_parent", "vb_chunks"
RESERVED_KEYS = (SOURCE_KEY, HASH_KEY, PARENT_KEY, CHUNKS_KEY)
DELETE_BATCH = 1000
DEFAULT_SOURCE_KEY = "default"
SPLITTER = "tokens, paragraph/sentence ends"  # part of the hash: a new splitter re-chunks documents


class Cleanup(str, Enum):
    """``none``: never delete documents; ``full``: delete what the source key holds and the source lacks."""

    NONE = "none"
    FULL = "full"


@dataclass
class SyncReport:
    """Counts of one sync, in source documents: ``read == added + updated + unchanged + len(failed) + skipped``.

    ``updated`` includes documents whose stored state was only repaired (chunks left by a killed run
    deleted, nothing encoded); ``skipped`` counts repeats of an id already read in this run (the
    first wins); ``deleted`` counts documents removed by ``cleanup="full"``; ``encoded`` the
    documents sent to the encoders (``chunks_encoded`` their chunks); ``chunks_deleted`` every stored
    id deleted (stale chunks and cleanup). ``cleanup_skipped`` says why a requested cleanup did not run."""

    source: str
    cleanup: Cleanup = Cleanup.NONE
    read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    encoded: int = 0
    chunks_written: int = 0
    chunks_encoded: int = 0
    chunks_deleted: int = 0
    cleanup_skipped: Optional[str] = None
    dead_letter: Optional[Path] = None
    dead_lettered: int = 0

    @property
    def balanced(self) -> bool:
        return self.read == self.added + self.updated + self.unchanged + len(self.failed) + self.skipped

    @property
    def ok(self) -> bool:
        return not self.failed and self.cleanup_skipped is None

    def summary(self) -> str:
        return (
            f"read: {self.read}  added: {self.added}  updated: {self.updated}  unchanged: {self.unchanged}  "
            f"deleted: {self.deleted}  failed: {len(self.failed)}  skipped: {self.skipped}"
        )


def encoder_identity(target: Any) -> list[dict[str, Any]]:
    """What decides the vectors of a document besides its text: each retriever's encoder (class, name,
    dimension, normalization, and its ``identity()`` when it declares one)."""
    identity = []
    for name, retriever in sorted(target.retrievers.items()):
        encoder = retriever.encoder
        entry: dict[str, Any] = {
            "retriever": name,
            "kind": getattr(retriever.kind, "value", retriever.kind),
            "field": retriever.field,
        }
        if encoder is not None:
            entry.update(
                cls=f"{type(encoder).__module__}.{type(encoder).__qualname__}",
                name=encoder.name,
                dense_dim=encoder.dense_dim,
                normalize=getattr(encoder, "normalize", None),
                quantize=getattr(encoder, "quantize", None),
            )
            declared = getattr(encoder, "identity", None)
            if callable(declared):
                entry["identity"] = declared()
        identity.append(entry)
    return identity


def content_hash(document: Document, identity: list[dict[str, Any]], chunking: Optional[dict[str, int]]) -> str:
    """Hash of everything that decides what is stored for ``document``: its text, its metadata (less
    the reserved keys), the encoders' identity and the chunking."""
    return _digest(document, hash_context(identity, chunking))


def hash_context(identity: list[dict[str, Any]], chunking: Optional[dict[str, Any]]) -> bytes:
    """The part of every content hash that one run shares (encoders, chunking), serialized once."""
    return _canonical([identity, chunking])


def _canonical(value: Any) -> bytes:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.encode("utf-8", "surrogatepass")


def _digest(document: Document, context: bytes) -> str:
    metadata = {k: v for k, v in document.metadata.items() if k not in RESERVED_KEYS}
    text = document.text.encode("utf-8", "surrogatepass")
    digest = hashlib.blake2b(context, digest_size=16)
    digest.update(len(text).to_bytes(8, "little"))  # length-prefixed: text and metadata never blur
    digest.update(text)
    digest.update(_canonical(metadata))
    return digest.hexdigest()


def expected_ids(parent: str, chunks: int, chunked: bool) -> list[str]:
    """The ids a document of ``chunks`` chunks is stored under."""
    return [f"{parent}#{n}" for n in range(chunks)] if chunked else [parent]


Held = dict[str, dict[str, tuple[Optional[str], Optional[int]]]]
"""Parent id -> {stored id: (hash, chunk count)} for every document a source key holds."""


def held_documents(target: Any, source_key: str, batch_size: int = 1000) -> Held:
    """What the store holds under ``source_key``: one pass, by a filter on ``vb_source`` when the
    collection declares it filterable, else over every document (the key read from metadata)."""
    scoped = SOURCE_KEY in target.spec.filterable
    filter_ = parse_filter({"key": SOURCE_KEY, "op": "==", "value": source_key}) if scoped else None
    held: Held = {}
    for batch in target.connector.iterate(target.spec.name, filter_, batch_size, False):
        for doc in batch:
            meta = doc.metadata
            if meta.get(SOURCE_KEY) != source_key:
                continue
            parent = meta.get(PARENT_KEY) if isinstance(meta.get(PARENT_KEY), str) else doc.id
            chunks = meta.get(CHUNKS_KEY)
            held.setdefault(parent, {})[doc.id] = (meta.get(HASH_KEY), chunks if isinstance(chunks, int) else None)
    return held


def default_source_key(source: Any) -> str:
    """A file's or folder's absolute path; ``default`` for documents from memory."""
    if isinstance(source, (str, Path)):
        return str(Path(source).resolve())
    path = getattr(source, "path", None)
    return str(Path(path).resolve()) if path is not None else DEFAULT_SOURCE_KEY


class _Plan:
    """Streams the source's records, deciding per document: skip (unchanged), repair (delete leftover
    chunks only), or write (new or changed: its chunks are yielded to the pipeline)."""

    def __init__(
        self,
        source: Any,
        held: Held,
        key: str,
        identity: list[dict[str, Any]],
        chunker: Optional[Chunker],
        report: SyncReport,
    ) -> None:
        self.inner, self.held, self.key, self.identity = source, held, key, identity
        self.chunker, self.report = chunker, report
        chunking = {**chunker.settings(), "splitter": SPLITTER} if chunker is not None else None
        self.context = hash_context(identity, chunking)
        self.seen: set[str] = set()
        self.unknown_failure = False  # a record failed before its id was known
        self.kind: dict[str, str] = {}  # parent -> "added" | "updated", for documents sent to the pipeline
        self.parent_of: dict[str, str] = {}  # chunk id -> parent, for documents sent to the pipeline
        self.stale: dict[str, set[str]] = {}  # parent -> stored ids to delete once its new version is written
        self.repairs: set[str] = set()  # stored ids left over by an interrupted run

    # the Source interface the Pipeline reads
    def records(self, cursor: Cursor = Cursor()) -> Iterator[Record]:
        for record in self.inner.records(cursor):
            self.report.read += 1
            if record.document is None:
                if record.doc_id is None:
                    self.unknown_failure = True
                else:
                    self.seen.add(record.doc_id)
                yield record
                continue
            doc = record.document
            if doc.id in self.seen:
                self.report.skipped += 1
                log.warning(
                    "%s line %d: id %r was read before in this sync; the first one wins",
                    self.inner,
                    record.line,
                    doc.id,
                )
                continue
            self.seen.add(doc.id)
            yield from self._decide(record, doc)

    def progress(self) -> tuple[Optional[int], str]:
        return self.inner.progress()

    def position(self, cursor: Cursor) -> int:
        return self.inner.position(cursor)

    def __str__(self) -> str:
        return str(self.inner)

    # decisions
    def _decide(self, record: Record, doc: Document) -> Iterator[Record]:
        digest = _digest(doc, self.context)
        stored = self.held.get(doc.id, {})
        current = self._current(doc.id, stored, digest)
        if current is not None:
            leftover = set(stored) - set(current)
            if not leftover:
                self.report.unchanged += 1
                return
            self.repairs |= leftover
            self.report.updated += 1
            return
        parts = self._stamp(doc, digest)
        if isinstance(parts, str):
            yield Record(
                line=record.line, raw=record.raw, error=parts, doc_id=doc.id, offset=record.offset, end=record.end
            )
            return
        self.kind[doc.id] = "updated" if stored else "added"
        self.stale[doc.id] = set(stored) - {p.id for p in parts}
        self.report.encoded += 1
        for part in parts:
            self.parent_of[part.id] = doc.id
            yield Record(
                line=record.line, raw=record.raw, document=part, doc_id=part.id, offset=record.offset, end=record.end
            )

    def _current(
        self, parent: str, stored: dict[str, tuple[Optional[str], Optional[int]]], digest: str
    ) -> Optional[list[str]]:
        """The ids of the stored version when it is ``digest`` and complete, else None."""
        counts = {chunks for hash_, chunks in stored.values() if hash_ == digest}
        if len(counts) != 1:
            return None
        (chunks,) = counts
        if not isinstance(chunks, int) or chunks < 1:
            return None
        ids = expected_ids(parent, chunks, self.chunker is not None)
        complete = all(stored.get(i) == (digest, chunks) for i in ids)
        return ids if complete else None

    def _stamp(self, doc: Document, digest: str) -> list[Document] | str:
        """The documents to write for ``doc`` (its chunks), carrying the reserved keys; or the reason
        it cannot be written (a chunk id too long)."""
        try:
            parts = self.chunker.split(doc) if self.chunker is not None else [doc]
            reserved = {SOURCE_KEY: self.key, HASH_KEY: digest, PARENT_KEY: doc.id, CHUNKS_KEY: len(parts)}
            return [Document(id=p.id, text=p.text, metadata={**p.metadata, **reserved}) for p in parts]
        except ValidationError as exc:
            return f"chunking: {_validation_reason(exc)}"


def writer(target: Any) -> Callable[[Any], int]:
    """How to write an encoded batch to ``target``'s collection: its ``write_batch`` (which keeps the
    BM25 statistics of a ``LiveBM25Encoder`` exact) where it has one, else the connector's ``upsert``."""
    write = getattr(target, "write_batch", None)
    name = target.spec.name
    return write if write is not None else (lambda batch: target.connector.upsert(name, batch))


def deleter(target: Any) -> Callable[[list[str]], int]:
    """How to delete ids from ``target``'s collection: its ``delete`` (BM25 statistics follow) where it
    has one, else the connector's."""
    delete = getattr(target, "delete", None)
    name = target.spec.name
    return (lambda ids: delete(ids=ids)) if delete is not None else (lambda ids: target.connector.delete(name, ids=ids))


def _delete(target: Any, ids: list[str], what: str) -> int:
    if ids:
        log.info("deleting %d %s", len(ids), what)
    delete = deleter(target)
    return sum(delete(ids[start : start + DELETE_BATCH]) for start in range(0, len(ids), DELETE_BATCH))


def _dense_encoder(target: Any) -> Any:
    return next((r.encoder for r in target.retrievers.values() if getattr(r.kind, "value", r.kind) == "dense"), None)


def sync(
    target: Any,
    source: Any,
    *,
    source_key: Optional[str] = None,
    cleanup: Cleanup | str = Cleanup.NONE,
    format: Optional[str] = None,
    chunk_tokens: Optional[int] = None,
    overlap: int = 0,
    dead_letter: Optional[str | Path] = None,
    batch_size: Optional[int] = None,
    progress: bool = False,
    queue_size: int = QUEUE_SIZE,
) -> SyncReport:
    """Make the documents of ``source_key`` in ``target`` (a ``HybridIndex``) equal ``source``: a
    JSONL/CSV/Parquet file, a folder of .txt/.md/.html/.pdf files, or an iterable of ``Document``s
    or dicts. ``source_key`` defaults to the file's or folder's absolute path (``default`` for an
    iterable); ``cleanup="full"`` deletes the key's documents that the source no longer holds.
    Returns a ``SyncReport``; raises ``IngestError`` when the store fails mid-run (run it again:
    what was written is skipped)."""
    try:
        mode = Cleanup(getattr(cleanup, "value", cleanup))
    except ValueError:
        raise ConfigurationError(f"cleanup={cleanup!r}: choose one of {[m.value for m in Cleanup]}") from None
    if source_key is not None and (not isinstance(source_key, str) or not source_key):
        raise ConfigurationError(f"source_key={source_key!r}: must be a non-empty string")
    chunker = None
    if chunk_tokens is not None:
        chunker = Chunker(chunk_tokens, overlap, tokenizer=encoder_tokenizer(_dense_encoder(target)))
    elif overlap:
        raise ConfigurationError("overlap needs chunk_tokens")
    opened = open_source(source, format)
    key = source_key or default_source_key(source)
    report = SyncReport(source=key, cleanup=mode, dead_letter=None if dead_letter is None else Path(dead_letter))
    held = held_documents(target, key)
    plan = _Plan(opened, held, key, encoder_identity(target), chunker, report)
    name = target.spec.name
    pipeline = Pipeline(
        plan,  # type: ignore[arg-type]  # a _Plan reads like a Source (records, progress, position)
        target.encode_documents,
        writer(target),
        collection=name,
        batch_size=batch_size or target.batch_size,
        on_error=OnError.SKIP,
        dead_letter=report.dead_letter,
        progress=progress,
        queue_size=queue_size,
    )
    try:
        written = pipeline.run()
    except IngestError as exc:
        raise IngestError(
            f"sync of {key!r} stopped: {exc}; run the sync again (what was written is skipped)", exc.report
        ) from exc.__cause__
    _account(plan, written, report)
    stale = sorted(plan.repairs | {i for p, ids in plan.stale.items() if p not in report.failed for i in ids})
    report.chunks_deleted += _delete(target, stale, "stale chunks")
    if mode is Cleanup.FULL:
        _cleanup(target, plan, held, report)
    return report


def _account(plan: _Plan, written: IngestReport, report: SyncReport) -> None:
    """Fold the pipeline's per-chunk report into per-document counts."""
    for key, reason in written.failed.items():
        report.failed.setdefault(plan.parent_of.get(key, key), reason)
    for parent, kind in plan.kind.items():
        if parent not in report.failed:
            setattr(report, kind, getattr(report, kind) + 1)
    report.chunks_written, report.chunks_encoded = written.written, written.encoded
    report.dead_lettered = written.dead_lettered


def _cleanup(target: Any, plan: _Plan, held: Held, report: SyncReport) -> None:
    if plan.unknown_failure:
        report.cleanup_skipped = (
            "a record could not be read and its id is unknown, so it might be a stored "
            "document; nothing was deleted (fix the record, then sync again)"
        )
        log.warning("cleanup skipped: %s", report.cleanup_skipped)
        return
    gone = [parent for parent in held if parent not in plan.seen]
    ids = sorted(i for parent in gone for i in held[parent])
    report.chunks_deleted += _delete(target, ids, f"stored ids of {len(gone)} documents that left the source")
    report.deleted = len(gone)


def delete_stale_chunks(
    connector: Any, collection: str, documents: list[Document], delete: Callable[[list[str]], int]
) -> int:
    """After ``documents`` (chunks ``<parent>#<n>`` carrying ``parent_id``, all chunks of each parent,
    as one ingestion batch holds them) were written: delete the parents' higher-numbered chunks left
    by an earlier, longer version (``<parent>#<count>``, ``#<count + 1>``, ... while they exist).
    Costs one ``get`` per batch when there are none. Returns how many were deleted."""
    next_index: dict[str, int] = {}
    for doc in documents:
        parent = doc.metadata.get("parent_id")
        if isinstance(parent, str) and doc.id.startswith(parent + "#") and doc.id[len(parent) + 1 :].isdigit():
            next_index[parent] = max(next_index.get(parent, 0), int(doc.id[len(parent) + 1 :]) + 1)
    deleted = 0
    while next_index:
        probes = {f"{parent}#{n}": parent for parent, n in next_index.items()}
        found = [doc.id for doc in connector.get(collection, list(probes))]
        if not found:
            break
        deleted += delete(found)
        next_index = {probes[i]: next_index[probes[i]] + 1 for i in found}
    return deleted


def stale_chunks_deleted(write: Any, target: Any) -> Any:
    """``write`` (an upsert of an ``IndexBatch``) followed by ``delete_stale_chunks`` for the rows
    the store acknowledged (on a ``WriteError``: all but the failed ones, then the error is re-raised)."""
    connector, collection, delete = target.connector, target.spec.name, deleter(target)

    def write_then_delete(batch: Any) -> int:
        try:
            written = write(batch)
        except WriteError as exc:
            delete_stale_chunks(connector, collection, [d for d in batch.documents if d.id not in exc.failed], delete)
            raise
        delete_stale_chunks(connector, collection, batch.documents, delete)
        return written

    return write_then_delete
