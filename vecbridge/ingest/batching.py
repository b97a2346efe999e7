"""Group records into write batches: chunk, drop in-batch duplicates (the last one wins), and keep
every rejected record with its reason so the batch's acknowledgement accounts for all of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from pydantic import ValidationError

from vecbridge.ingest.chunking import Chunker
from vecbridge.ingest.records import Record, _validation_reason
from vecbridge.ingest.sources import Cursor
from vecbridge.schemas import Document, IndexBatch


@dataclass(frozen=True)
class Item:
    """One document (or chunk) to write, and the record it came from."""

    record: Record
    document: Document


@dataclass(frozen=True)
class Rejected:
    """A record (or chunk) that will not be written: ``stage`` is ``read``, ``duplicate`` or ``encode``."""

    record: Record
    doc_id: Optional[str]
    stage: str
    reason: str


@dataclass
class Batch:
    """Items with unique ids plus rejected records, covering the source up to ``cursor``."""

    seq: int
    items: list[Item]
    rejected: list[Rejected]
    cursor: Cursor
    encoded: Optional[IndexBatch] = None
    encode_error: Optional[str] = None

    @property
    def size(self) -> int:
        """Documents (chunks) this batch accounts for: ``read`` grows by this on acknowledgement."""
        return len(self.items) + len(self.rejected)

    def dead_letters(self, failed: dict[str, str]) -> list[dict[str, Any]]:
        """The dead-letter rows of this batch once written (``failed``: id -> reason, from
        ``write_exactly``), in line order: rejected records, then items that failed to encode or write."""
        letters = [(r.record, r.doc_id, r.stage, r.reason) for r in self.rejected]
        for item in self.items:
            reason = self.encode_error or failed.get(item.document.id)
            if reason is not None:
                letters.append((item.record, item.document.id, "encode" if self.encode_error else "write", reason))
        return [dead_letter_row(*letter) for letter in sorted(letters, key=lambda letter: letter[0].line)]


def dead_letter_row(record: Record, doc_id: Optional[str], stage: str, reason: str) -> dict[str, Any]:
    """One dead-letter row: ``line``, ``offset``, ``id``, ``stage``, ``reason``, ``raw`` (the input line)."""
    raw = record.raw
    if raw is None and record.document is not None:
        raw = record.document.model_dump_json()
    return {"line": record.line, "offset": record.offset, "id": doc_id, "stage": stage, "reason": reason, "raw": raw}


class BatchBuilder:
    """Accumulates records until ``size`` documents (chunks) or rejections are pending.

    Duplicate rule: when an id repeats inside one batch, the later record wins; every earlier
    document (all chunks of an earlier parent) is counted as ``skipped`` with a dead-letter row."""

    def __init__(self, size: int, chunker: Optional[Chunker] = None) -> None:
        self.size = size
        self.chunker = chunker
        self.seq = 0
        self._reset()

    def _reset(self) -> None:
        self.items: dict[str, Item] = {}
        self.parents: dict[str, list[str]] = {}
        self.rejected: list[Rejected] = []
        self.cursor: Optional[Cursor] = None

    @property
    def pending(self) -> int:
        return len(self.items) + len(self.rejected)

    @property
    def full(self) -> bool:
        return self.pending >= self.size

    def add(self, record: Record) -> None:
        self.cursor = Cursor.after(record)
        if record.document is None:
            self.rejected.append(Rejected(record, record.doc_id, "read", record.error or "unreadable"))
            return
        doc = record.document
        for earlier in self.parents.pop(doc.id, []):
            self._supersede(earlier, record)
        if self.chunker is not None and (getattr(doc, "dense", None) is not None or getattr(doc, "sparse", None)):
            reason = "chunking: a document that brings its vectors cannot be split into chunks"
            self.rejected.append(Rejected(record, doc.id, "read", reason))
            return
        try:
            parts = self.chunker.split(doc) if self.chunker is not None else [doc]
        except ValidationError as exc:
            self.rejected.append(Rejected(record, doc.id, "read", f"chunking: {_validation_reason(exc)}"))
            return
        for part in parts:
            if part.id in self.items:
                self._supersede(part.id, record)
            self.items[part.id] = Item(record, part)
        self.parents[doc.id] = [p.id for p in parts]

    def _supersede(self, doc_id: str, by: Record) -> None:
        old = self.items.pop(doc_id, None)
        if old is None:
            return
        reason = f"duplicate id {doc_id!r} in one batch: superseded by line {by.line}"
        self.rejected.append(Rejected(old.record, doc_id, "duplicate", reason))

    def take(self) -> Optional[Batch]:
        if self.cursor is None:
            return None
        self.seq += 1
        batch = Batch(self.seq, list(self.items.values()), self.rejected, self.cursor)
        self._reset()
        return batch


def encode_batch(
    batch: Batch, encode: Callable[[list[Document]], IndexBatch], check: Optional[Callable[[Document], None]] = None
) -> None:
    """Encode the batch's documents in place; an encoder's ``VecbridgeError`` fails the batch's items.
    ``check`` (the index's ``check_vectors``) first moves each document whose given vectors the
    collection cannot store to the rejected ones (stage ``encode``, the reason naming the field)."""
    from vecbridge.schemas import VecbridgeError

    if check is not None:
        kept = []
        for item in batch.items:
            try:
                check(item.document)
                kept.append(item)
            except VecbridgeError as exc:
                batch.rejected.append(Rejected(item.record, item.document.id, "encode", str(exc)))
        batch.items = kept
    if not batch.items:
        return
    try:
        batch.encoded = encode([item.document for item in batch.items])
    except VecbridgeError as exc:
        batch.encode_error = f"encoding failed: {type(exc).__name__}: {exc}"
