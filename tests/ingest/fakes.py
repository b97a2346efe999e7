"""In-memory stores that reject some rows, forget the contract, or go down; a helper to write JSONL."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Optional

from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from vecbridge import HybridIndex
from vecbridge.schemas import StoreUnavailableError, WriteError


class RejectingConnector(InMemoryConnector):
    """Follows the contract: writes every acceptable row, then raises ``WriteError`` naming exactly
    the rejected ids with ``written`` = rows written."""

    def __init__(self, reject: set[str]) -> None:
        super().__init__()
        self.reject = reject

    def upsert(self, collection, batch):
        keep = [i for i, d in enumerate(batch.documents) if d.id not in self.reject]
        failed = {d.id: f"id {d.id!r} rejected by the store" for d in batch.documents if d.id in self.reject}
        from vecbridge.ingest.writing import select

        written = super().upsert(collection, select(batch, keep)) if keep else 0
        if failed:
            raise WriteError(f"{len(failed)} rejected", failed, written)
        return written


class LegacyRejectingConnector(InMemoryConnector):
    """Breaks the contract like the old Milvus connector: at the first rejected row it raises,
    naming only that id, having written nothing."""

    def __init__(self, reject: set[str]) -> None:
        super().__init__()
        self.reject = reject

    def upsert(self, collection, batch):
        bad = next((d.id for d in batch.documents if d.id in self.reject), None)
        if bad is not None:
            raise WriteError(f"id {bad!r} rejected", {bad: "rejected"})
        return super().upsert(collection, batch)


class FlakyStore(InMemoryConnector):
    """Answers ``StoreUnavailableError`` while ``down``; goes down after ``fail_after`` upserts."""

    def __init__(self, fail_after: Optional[int] = None) -> None:
        super().__init__()
        self.fail_after = fail_after
        self.calls = 0
        self.down = False

    def upsert(self, collection, batch):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            self.down = True
        if self.down:
            raise StoreUnavailableError("store at memory:// unreachable after 3 attempts")
        return super().upsert(collection, batch)


class GatedStore(InMemoryConnector):
    """The first upsert waits until ``release`` is set (or 30 s), recording whether it was."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.writing = threading.Event()
        self.released_in_time: Optional[bool] = None

    def upsert(self, collection, batch):
        if self.released_in_time is None:
            self.writing.set()
            self.released_in_time = self.release.wait(30)
        return super().upsert(collection, batch)


class HookEncoder(BagOfWordsEncoder):
    """Calls ``hook(call_number)`` before encoding each batch."""

    def __init__(self, hook) -> None:
        super().__init__()
        self.hook = hook

    def encode_documents(self, texts):
        self.hook(self.calls + 1)
        return self._encode(texts)


def make_index(connector, batch_size: int = 4, encoder=None) -> HybridIndex:
    encoder = encoder or BagOfWordsEncoder()
    return HybridIndex.create(connector, "docs", dense=encoder, sparse=encoder, batch_size=batch_size)


def rows(n: int, prefix: str = "d") -> list[dict]:
    return [{"id": f"{prefix}{i}", "text": f"document number {i} about topic {i % 7}", "n": i} for i in range(n)]


def write_jsonl(path: Path, items: list) -> Path:
    with path.open("wb") as handle:
        for item in items:
            handle.write(item if isinstance(item, bytes) else (json.dumps(item) + "\n").encode())
    return path


def dead_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
