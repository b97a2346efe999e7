"""The ingestion pipeline: read (streaming) -> batch -> encode on the calling thread while a writer
thread writes the previous batches through a bounded queue; batches are acknowledged in order
(dead letters fsynced, then the checkpoint advanced), so a killed run resumes where it was."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from vecbridge.ingest.batching import Batch, BatchBuilder, encode_batch
from vecbridge.ingest.checkpoint import Checkpoint
from vecbridge.ingest.chunking import Chunker
from vecbridge.ingest.report import DeadLetters, IngestError, IngestInterrupted, IngestReport, OnError
from vecbridge.ingest.sources import Cursor, FileSource, Source
from vecbridge.ingest.writing import write_exactly
from vecbridge.schemas import ConfigurationError, Document, IndexBatch, VecbridgeError

log = logging.getLogger(__name__)

QUEUE_SIZE = 2


def pipeline_depth(queue_size: int = QUEUE_SIZE) -> int:
    """Batches encoded but not yet acknowledged at any moment, at most: the queue, the one being
    written and the one being encoded. A killed run re-encodes at most this many batches."""
    return queue_size + 2


class Pipeline:
    """One ingestion run. ``encode`` turns documents into an ``IndexBatch`` (calling thread);
    ``write`` upserts it (writer thread) following the ``WriteError`` contract; ``check`` (optional)
    refuses single documents before encoding (their given vectors), each as a failed row."""

    def __init__(
        self,
        source: Source,
        encode: Callable[[list[Document]], IndexBatch],
        write: Callable[[IndexBatch], int],
        *,
        check: Optional[Callable[[Document], None]] = None,
        collection: str,
        batch_size: int = 256,
        on_error: OnError = OnError.SKIP,
        dead_letter: Optional[Path] = None,
        checkpoint: Optional[Path] = None,
        resume: bool = False,
        chunker: Optional[Chunker] = None,
        progress: bool = False,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        if batch_size < 1 or queue_size < 1:
            raise ConfigurationError(f"batch_size and queue_size must be >= 1, got {batch_size} and {queue_size}")
        self.source, self.encode, self.write, self.check = source, encode, write, check
        self.batch_size, self.on_error, self.chunker = batch_size, OnError(on_error), chunker
        self.progress = progress
        self.queue: queue.Queue[Optional[Batch]] = queue.Queue(maxsize=queue_size)
        self.halt = threading.Event()
        self.error: Optional[BaseException] = None
        self.report = IngestReport(dead_letter=dead_letter, checkpoint=checkpoint)
        self.checkpoint_path = checkpoint
        self.ckpt, self.cursor, keep = self._start(collection, checkpoint, resume, dead_letter)
        self.dead = DeadLetters(dead_letter, keep)
        self.bar: Any = None

    def _start(
        self, collection: str, path: Optional[Path], resume: bool, dead_letter: Optional[Path]
    ) -> tuple[Optional[Checkpoint], Cursor, Optional[int]]:
        chunking = self.chunker.settings() if self.chunker is not None else None
        if path is not None and not isinstance(self.source, FileSource):
            raise ConfigurationError("a checkpoint needs a file source (JSONL, CSV, Parquet), not an iterable")
        if resume:
            if path is None:
                raise ConfigurationError("resume needs a checkpoint path")
            ckpt = Checkpoint.load(path)
            ckpt.check(self.source, collection, chunking, path)  # type: ignore[arg-type]  # a FileSource: checked above
            self.report.resumed_at = ckpt.line
            same = dead_letter is not None and ckpt.dead_letter == str(dead_letter)
            return ckpt, ckpt.cursor, ckpt.dead_letter_bytes if same else 0
        if path is None:
            return None, Cursor(), None
        path.unlink(missing_ok=True)  # a stale checkpoint must not be resumed onto this run
        ckpt = Checkpoint.start(self.source, collection, chunking)  # type: ignore[arg-type]  # a FileSource: checked above
        ckpt.dead_letter = None if dead_letter is None else str(dead_letter)
        return ckpt, Cursor(), None

    # ---- calling thread: read, batch, encode ------------------------------------------
    def run(self) -> IngestReport:
        """Ingest the source; returns the report, raises ``IngestError`` (store failure) or
        ``IngestInterrupted`` (Ctrl-C) after stopping the writer cleanly."""
        if self.ckpt is not None and self.ckpt.complete:
            log.info("%s: checkpoint says the file is complete; nothing to do", self.source)
            self.report.line = self.ckpt.line
            return self.report
        writer = threading.Thread(target=self._writer, name="vecbridge-ingest-writer", daemon=True)
        total, unit = self.source.progress()
        if self.progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total,
                unit=unit,
                unit_scale=unit == "B",
                desc="ingesting",
                initial=self.source.position(self.cursor),
            )
        writer.start()
        try:
            self._produce(writer)
        except KeyboardInterrupt:
            self._finish(writer, halt=True)
            raise IngestInterrupted(f"interrupted: {self._where()}; {self._how_to_resume()}", self.report) from None
        except BaseException:
            self._finish(writer, halt=True)
            raise
        self._finish(writer, halt=False)
        if self.error is not None:
            if isinstance(self.error, VecbridgeError):
                message = f"ingestion stopped: {self.error}; {self._where()}; {self._how_to_resume()}"
                raise IngestError(message, self.report) from self.error
            raise self.error
        if self.ckpt is not None and self.report.stopped_at is None:
            self.ckpt.complete = True
            self.ckpt.save(self.checkpoint_path)  # type: ignore[arg-type]  # set whenever a checkpoint is
        return self.report

    def _produce(self, writer: threading.Thread) -> None:
        builder = BatchBuilder(self.batch_size, self.chunker)
        for record in self.source.records(self.cursor):
            if self.halt.is_set():
                return
            builder.add(record)
            stop_here = self.on_error is OnError.STOP and record.error is not None
            if builder.full or stop_here:
                self._submit(builder.take(), writer)
            if stop_here:
                return
        self._submit(builder.take(), writer)

    def _submit(self, batch: Optional[Batch], writer: threading.Thread) -> None:
        if batch is None or self.halt.is_set():
            return
        encode_batch(batch, self.encode, self.check)
        if batch.encoded is not None:
            self.report.encoded += len(batch.items)
        log.info("encoded batch %d (%d documents) through line %d", batch.seq, len(batch.items), batch.cursor.line)
        self._put(batch, writer)

    def _put(self, item: Optional[Batch], writer: threading.Thread) -> None:
        """Blocking put that gives up if the writer is gone (never deadlocks on a dead writer)."""
        while writer.is_alive():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _finish(self, writer: threading.Thread, halt: bool) -> None:
        if halt:
            self.halt.set()
        self._put(None, writer)
        writer.join()
        self.dead.close()
        if self.bar is not None:
            self.bar.close()

    # ---- writer thread: write, acknowledge in order -----------------------------------
    def _writer(self) -> None:
        while True:
            batch = self.queue.get()
            if batch is None:
                return
            if self.halt.is_set():
                continue  # drained, never acknowledged: a resumed run reads it again
            try:
                written, failed = (0, {}) if batch.encoded is None else write_exactly(self.write, batch.encoded)
                self._acknowledge(batch, written, failed)
            except BaseException as exc:  # handed to the calling thread, which re-raises it
                self.error = exc
                self.halt.set()

    def _acknowledge(self, batch: Batch, written: int, failed: dict[str, str]) -> None:
        letters = batch.dead_letters(failed)
        for row in letters:
            self.dead.write(row)
        written_ids = (
            [] if batch.encode_error else [item.document.id for item in batch.items if item.document.id not in failed]
        )
        problems = self.report.acknowledge(batch.size, written, letters, written_ids)
        self.report.line = batch.cursor.line
        self._advance(batch, written, len(problems))
        log.info("acknowledged batch %d through line %d (%d written)", batch.seq, batch.cursor.line, written)
        if problems and self.on_error is OnError.STOP:
            self.report.stopped_at = min(problems)
            self.halt.set()

    def _advance(self, batch: Batch, written: int, failed: int) -> None:
        size = self.dead.sync()
        if self.ckpt is not None:
            skipped = sum(1 for r in batch.rejected if r.stage == "duplicate")
            ckpt = self.ckpt
            ckpt.line, ckpt.offset, ckpt.dead_letter_bytes = batch.cursor.line, batch.cursor.offset, size
            for key, value in (("read", batch.size), ("written", written), ("failed", failed), ("skipped", skipped)):
                ckpt.totals[key] += value
            ckpt.save(self.checkpoint_path)  # type: ignore[arg-type]  # set whenever a checkpoint is
        if self.bar is not None:
            self.bar.update(self.source.position(batch.cursor) - self.bar.n)

    # ---- messages ----------------------------------------------------------------------
    def _where(self) -> str:
        return f"acknowledged through line {self.report.line} of {self.source} ({self.report.summary()})"

    def _how_to_resume(self) -> str:
        if self.ckpt is None:
            return "no checkpoint was kept; ingest the rest again (upserts are idempotent)"
        return f"rerun with --resume to continue (Python: resume=True); checkpoint: {self.checkpoint_path}"
