"""Bulk writes: ``helpers.streaming_bulk`` in chunks, tenacity retries, per-document failures.

One attempt sends every pending action. Acknowledged items leave the pending set as their chunk's
response arrives; items rejected with a retryable status (429, 502, 503, 504) stay pending; other
rejections are final. A failure of the whole request (connection error, retryable HTTP status)
keeps the rest pending: re-sending is safe because each action is an ``index`` with a fixed
``_id``. Between attempts tenacity waits ``initial * 2**n`` seconds (capped at ``max_backoff``)
plus up to ``initial`` seconds of jitter. If the whole request still fails after ``max_attempts``
(the store is down), ``StoreUnavailableError`` carries the number of acknowledged documents.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Callable

from elasticsearch import ApiError, Elasticsearch, helpers
from elasticsearch import ConnectionError as ESConnectionError
from elasticsearch import ConnectionTimeout
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from schemas import StoreUnavailableError

RETRY_STATUSES = frozenset({429, 502, 503, 504})
log = logging.getLogger(__name__)


class _ItemsPending(Exception):
    """Some items were rejected with a retryable status; carries their reasons."""

    def __init__(self, reasons: dict[str, str]):
        super().__init__(f"{len(reasons)} documents rejected with a retryable status")
        self.reasons = reasons


class Failures(dict[str, str]):
    """``{id: reason}`` of the documents not written; ``written`` counts the acknowledged ones."""

    def __init__(self, reasons: Mapping[str, str] = (), written: int = 0):  # type: ignore[assignment]
        super().__init__(reasons)
        self.written = written


def is_retryable(exc: BaseException) -> bool:
    """Retry on pending items, connection errors/timeouts and 429 / 502 / 503 / 504 responses."""
    if isinstance(exc, (_ItemsPending, ESConnectionError, ConnectionTimeout)):
        return True
    return isinstance(exc, ApiError) and exc.meta.status in RETRY_STATUSES


def describe_failure(exc: BaseException) -> str:
    """One line: the HTTP status and error type, or the connection error (no traceback)."""
    if isinstance(exc, ApiError):
        return f"{exc.meta.status} {exc.error}"
    text, message = str(exc), getattr(exc, "message", None)
    if isinstance(message, str) and message and message not in text:
        text = f"{text}: {message}"
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def host_of(client: Elasticsearch) -> str:
    """``scheme://host:port`` of the client's first node (never credentials)."""
    try:
        node = client.transport.node_pool.all()[0].config
        return f"{node.scheme}://{node.host}:{node.port}"
    except Exception:  # pragma: no cover - unusual transports
        return "Elasticsearch"


def _reason(item: Mapping[str, Any]) -> str:
    error = item.get("error")
    if isinstance(error, Mapping):
        return f"{item.get('status')} {error.get('type')}: {error.get('reason')}"
    return f"{item.get('status')} {error}"


def bulk_index(
    client: Elasticsearch,
    index: str,
    sources: Mapping[str, dict[str, Any]],
    *,
    chunk_size: int,
    refresh: str,
    max_attempts: int,
    initial_backoff: float,
    max_backoff: float,
    sleep: Callable[[float], None] | None = None,
) -> Failures:
    """Index ``{id: _source}``; returns ``{id: reason}`` for the documents that were not written
    (``.written``: how many were acknowledged). Raises ``StoreUnavailableError`` when the requests
    themselves keep failing (connection errors, retryable statuses) after ``max_attempts``."""
    pending = dict(sources)
    failed: dict[str, str] = {}
    acknowledged: set[str] = set()
    started = time.monotonic()
    bulk_client = client.options(max_retries=0)  # retries are ours, with backoff
    retrying = Retrying(
        stop=stop_after_attempt(max_attempts),
        wait=wait_exponential(multiplier=initial_backoff, max=max_backoff) + wait_random(0, initial_backoff),
        retry=retry_if_exception(is_retryable),
        reraise=True,
        before_sleep=lambda state: log.warning(
            "bulk into %s: attempt %d failed (%s), retrying", index, state.attempt_number, state.outcome.exception()
        ),
        **({"sleep": sleep} if sleep is not None else {}),
    )
    try:
        for attempt in retrying:
            with attempt:
                try:
                    retry_now = _send(bulk_client, index, pending, chunk_size, refresh, failed, acknowledged)
                finally:  # what was acknowledged or finally rejected is never sent again
                    pending = {i: s for i, s in pending.items() if i not in acknowledged and i not in failed}
                pending = {doc_id: pending[doc_id] for doc_id in retry_now}
                if pending:
                    raise _ItemsPending(retry_now)
    except _ItemsPending as exc:
        failed.update({doc_id: f"{reason} (after {max_attempts} attempts)" for doc_id, reason in exc.reasons.items()})
    except (ApiError, ESConnectionError, ConnectionTimeout) as exc:
        if is_retryable(exc):
            raise StoreUnavailableError(
                f"Elasticsearch at {host_of(client)} unavailable: bulk into {index!r} failed {max_attempts} times "
                f"over {time.monotonic() - started:.1f} s (last error: {describe_failure(exc)}); "
                f"{len(acknowledged)} of {len(sources)} documents were written",
                len(acknowledged),
            ) from None
        failed.update({doc_id: f"bulk request failed: {describe_failure(exc)}" for doc_id in pending})
    return Failures(failed, written=len(acknowledged))


def _send(
    client: Elasticsearch,
    index: str,
    pending: Mapping[str, dict[str, Any]],
    chunk_size: int,
    refresh: str,
    failed: dict[str, str],
    acknowledged: set[str],
) -> dict[str, str]:
    """One pass over ``pending``; records acknowledged ids and final failures as responses arrive,
    returns the retryable ones."""
    actions = ({"_op_type": "index", "_index": index, "_id": i, "_source": s} for i, s in pending.items())
    retry: dict[str, str] = {}
    for ok, result in helpers.streaming_bulk(
        client, actions, chunk_size=chunk_size, raise_on_error=False, raise_on_exception=True,
        yield_ok=True, refresh=refresh,
    ):
        item = next(iter(result.values()))
        doc_id = str(item.get("_id"))
        if ok:
            acknowledged.add(doc_id)
            continue
        if item.get("status") in RETRY_STATUSES:
            retry[doc_id] = _reason(item)
        else:
            failed[doc_id] = _reason(item)
    return retry
