"""What an ingestion did (``IngestReport``) and where its rejected records went (``DeadLetters``)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Optional

from vecbridge.schemas import VecbridgeError


class OnError(str, Enum):
    """``skip``: dead-letter the bad record and go on; ``stop``: dead-letter it and stop after its batch."""

    SKIP = "skip"
    STOP = "stop"


@dataclass
class IngestReport:
    """Counts of one run, in documents (chunks when chunking): ``read == written + len(failed) + skipped``.

    ``failed`` maps each id not written (or ``line N`` when a record had no readable id) to the
    reason; ``skipped`` counts duplicates superseded by a later record of the same batch;
    ``replaced`` counts written documents whose id an earlier batch of this run had written already
    (upserts keep one), so ``written - replaced`` documents of this run are in the store;
    ``encoded`` counts documents encoded in this run (more than ``read`` only when a run ends
    with batches encoded but never acknowledged); ``resumed_at`` is the line a resumed run
    started after; ``stopped_at`` the line where ``--on-error stop`` stopped."""

    read: int = 0
    written: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    skipped: int = 0
    replaced: int = 0
    encoded: int = 0
    dead_letter: Optional[Path] = None
    dead_lettered: int = 0
    checkpoint: Optional[Path] = None
    line: int = 0
    resumed_at: Optional[int] = None
    stopped_at: Optional[int] = None
    _written_ids: set[bytes] = field(default_factory=set, repr=False, compare=False)

    @property
    def distinct_written(self) -> int:
        """Documents of this run the store holds: ``written`` less the ids written twice."""
        return self.written - self.replaced

    @property
    def ok(self) -> bool:
        return not self.failed and not self.dead_lettered

    @property
    def balanced(self) -> bool:
        return self.read == self.written + len(self.failed) + self.skipped

    def add_failure(self, key: Optional[str], line: int, reason: str) -> None:
        """Record a failure; a key seen before (or none) is made unique with the line number."""
        if key is None:
            name = f"line {line}"
        else:
            name = key if key not in self.failed else f"{key} (line {line})"
        while name in self.failed:  # pragma: no cover - only with pathological ids
            name += "'"
        self.failed[name] = reason

    def acknowledge(
        self, read: int, written: int, letters: list[dict[str, Any]], written_ids: Iterable[str] = ()
    ) -> list[int]:
        """Count one acknowledged batch: ``read`` documents, ``written`` of them stored (their ids:
        ``written_ids``), and its dead-letter rows (``duplicate`` ones are ``skipped``, the others
        ``failed``). Returns the lines of the failures (``--on-error stop`` stops at the first)."""
        for doc_id in written_ids:  # 8-byte digests: ~70 bytes per document held for the run
            digest = hashlib.blake2b(doc_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
            if digest in self._written_ids:
                self.replaced += 1
            else:
                self._written_ids.add(digest)
        problems = []
        for row in letters:
            self.dead_lettered += 1
            if row["stage"] == "duplicate":
                self.skipped += 1
            else:
                self.add_failure(row["id"], row["line"], row["reason"])
                problems.append(row["line"])
        self.read += read
        self.written += written
        return problems

    def summary(self) -> str:
        replaced = f"  replaced: {self.replaced}" if self.replaced else ""
        return (
            f"read: {self.read}  written: {self.written}  failed: {len(self.failed)}  skipped: {self.skipped}{replaced}"
        )


class IngestError(VecbridgeError):
    """The run stopped early (store unavailable, fatal store error); ``report`` holds what was
    acknowledged, the checkpoint (if any) is intact and ``--resume`` continues; the store's
    exception is chained as ``__cause__``."""

    def __init__(self, message: str, report: IngestReport):
        super().__init__(message)
        self.report = report


class IngestInterrupted(KeyboardInterrupt):
    """Ctrl-C: the batch being written was finished and acknowledged, the rest dropped; ``report``
    and the checkpoint say how far the run got."""

    def __init__(self, message: str, report: IngestReport):
        super().__init__(message)
        self.message = message
        self.report = report


class DeadLetters:
    """Append-only JSONL of rejected records, opened lazily (no file when nothing is rejected).

    One row: ``line``, ``offset`` (JSONL byte offset), ``id`` (null when unknown), ``stage``
    (``read`` | ``duplicate`` | ``encode`` | ``write``), ``reason`` (names the field), ``raw``."""

    def __init__(self, path: Optional[Path], keep_bytes: Optional[int] = None) -> None:
        self.path = path
        self.rows = 0
        self._handle: Any = None
        if path is not None and keep_bytes is not None and path.exists():
            with path.open("r+b") as handle:  # drop rows of batches never acknowledged
                handle.truncate(keep_bytes)
            self._handle = path.open("ab")
        elif path is not None and keep_bytes is None and path.exists():
            path.unlink()

    def write(self, row: dict[str, Any]) -> None:
        if self.path is None:
            return
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("ab")
        line = json.dumps(row, ensure_ascii=False) + "\n"
        self._handle.write(line.encode("utf-8", "backslashreplace"))
        self.rows += 1

    def sync(self) -> int:
        """Flush and fsync; returns the file's length (what a checkpoint records)."""
        if self._handle is None:
            return self.path.stat().st_size if self.path is not None and self.path.exists() else 0
        self._handle.flush()
        os.fsync(self._handle.fileno())
        return self._handle.tell()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
