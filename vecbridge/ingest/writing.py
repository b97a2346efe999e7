"""Exact per-row write accounting on top of ``Connector.upsert``'s ``WriteError`` contract."""

from __future__ import annotations

import logging
from collections.abc import Callable

from vecbridge.schemas import IndexBatch, WriteError

log = logging.getLogger(__name__)


def select(batch: IndexBatch, keep: list[int]) -> IndexBatch:
    """The rows ``keep`` of a batch (already validated, so no re-validation)."""
    return IndexBatch.model_construct(
        documents=[batch.documents[i] for i in keep],
        dense=None if batch.dense is None else batch.dense[keep],
        sparse={name: [vectors[i] for i in keep] for name, vectors in batch.sparse.items()},
        dense_present=None if batch.dense_present is None else [batch.dense_present[i] for i in keep],
    )


def write_exactly(write: Callable[[IndexBatch], int], batch: IndexBatch) -> tuple[int, dict[str, str]]:
    """Write a batch and return ``(written, failed)`` with ``written + len(failed) == len(batch)``.

    A ``WriteError`` that accounts for every row (``written + len(failed) == rows sent``) is
    trusted. One that does not (a connector that gave up at its first rejected row) is answered
    by re-sending the rows it did not name as failed: upserts are idempotent, so a row written
    twice is stored once. Each round drops at least one row, so this ends. Any other error
    (``StoreUnavailableError``, ...) propagates: the caller stops with its checkpoint intact."""
    failed: dict[str, str] = {}
    pending = batch
    while len(pending):
        try:
            result = write(pending)
        except WriteError as exc:
            sent = {d.id for d in pending.documents}
            named = {i: r for i, r in exc.failed.items() if i in sent}
            failed.update(named)
            if exc.written + len(named) == len(pending):
                return exc.written, failed
            keep = [i for i, d in enumerate(pending.documents) if d.id not in named]
            if not named:
                reason = f"not acknowledged by the store: {exc}"
                failed.update({d.id: reason for d in pending.documents})
                return 0, failed
            log.warning(
                "store rejected %d of %d rows without accounting for the rest; re-sending %d",
                len(named),
                len(pending),
                len(keep),
            )
            pending = select(pending, keep)
            continue
        if result != len(pending):
            log.warning(
                "store reported %s of %d rows written without an error; counting %d", result, len(pending), len(pending)
            )
        return len(pending), failed
    return 0, failed
