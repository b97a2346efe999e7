"""Bulk writes: ``helpers.streaming_bulk`` in chunks, tenacity retries, per-document failures.

One attempt sends every pending action. Acknowledged items leave the pending set as their chunk's
response arrives; items rejected with a retryable status (429, 502, 503, 504) stay pending; other
rejections are final. A failure of the whole request (connection error, retryable HTTP status)
keeps the rest pending: re-sending is safe because each action is an ``index`` with a fixed
``_id``. Between attempts tenacity waits ``initial * 2**n`` seconds (capped at ``max_backoff``)
plus up to ``initial`` seconds of jitter, for at most ``max_attempts`` tries and, when given,
``max_wait`` seconds in all. If the whole request still fails within that budget (the store is
down), ``StoreUnavailableError`` carries the number of acknowledged documents. ``retry_request``
gives single requests (the refresh after a bulk) the same budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Callable, Optional, TypeVar

from elasticsearch import ApiError, Elasticsearch, helpers
from elasticsearch import ConnectionError as ESConnectionError
from elasticsearch import ConnectionTimeout
from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay, wait_exponential, wait_random

from schemas import StoreUnavailableError

RETRY_STATUSES = frozenset({429, 502, 503, 504})
log = logging.getLogger(__name__)
T = TypeVar("T")


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


def _policy(
    what: str, max_attempts: int, initial_backoff: float, max_backoff: float, max_wait: Optional[float],
    sleep: Callable[[float], None] | None = None,
) -> Retrying:
    stop = stop_after_attempt(max_attempts)
    if max_wait is not None:
        stop = stop | stop_after_delay(max_wait)
    return Retrying(
        stop=stop,
        wait=wait_exponential(multiplier=initial_backoff, max=max_backoff) + wait_random(0, initial_backoff),
        retry=retry_if_exception(is_retryable),
        reraise=True,
        before_sleep=lambda state: log.warning(
            "%s: attempt %d failed (%s), retrying", what, state.attempt_number,
            describe_failure(state.outcome.exception()) if state.outcome else "?",
        ),
        **({"sleep": sleep} if sleep is not None else {}),
    )


def retry_request(
    what: str, fn: Callable[[], T], *, max_attempts: int, initial_backoff: float, max_backoff: float,
    max_wait: Optional[float] = None,
) -> T:
    """``fn()`` retried like a bulk request (connection errors, timeouts, 429/502/503/504); the last
    error propagates once the budget is spent."""
    for attempt in _policy(what, max_attempts, initial_backoff, max_backoff, max_wait):
        with attempt:
            return fn()
    raise AssertionError("unreachable")  # pragma: no cover


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
    max_wait: Optional[float] = None,
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
    retrying = _policy(f"bulk into {index}", max_attempts, initial_backoff, max_backoff, max_wait, sleep)
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
                f"Elasticsearch at {host_of(client)} unavailable: bulk into {index!r} failed "
                f"{retrying.statistics.get('attempt_number', max_attempts)} times "
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
