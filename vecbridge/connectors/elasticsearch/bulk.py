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
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, Optional, TypeVar

from elasticsearch import ApiError, ConnectionError as ESConnectionError, ConnectionTimeout, Elasticsearch, helpers
from tenacity import (
    AsyncRetrying,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_random,
)
from tenacity.stop import stop_base

from vecbridge.schemas import StoreUnavailableError

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

    def __init__(self, reasons: Mapping[str, str] = (), written: int = 0):  # type: ignore[assignment]  # an empty tuple is an empty mapping to dict()
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


def _retry_policy(
    what: str,
    max_attempts: int,
    initial_backoff: float,
    max_backoff: float,
    max_wait: Optional[float] = None,
    sleep: Any = None,
) -> dict[str, Any]:
    """tenacity arguments shared by sync and async retries: ``max_attempts`` tries and, when given,
    ``max_wait`` seconds in all; exponential backoff with jitter; retryable errors only."""
    stop: stop_base = stop_after_attempt(max_attempts)
    if max_wait is not None:
        stop = stop | stop_after_delay(max_wait)
    return dict(
        stop=stop,
        wait=wait_exponential(multiplier=initial_backoff, max=max_backoff) + wait_random(0, initial_backoff),
        retry=retry_if_exception(is_retryable),
        reraise=True,
        before_sleep=lambda state: log.warning(
            "%s: attempt %d failed (%s), retrying",
            what,
            state.attempt_number,
            describe_failure(state.outcome.exception()) if state.outcome else "?",
        ),
        **({"sleep": sleep} if sleep is not None else {}),
    )


def retry_request(
    what: str,
    fn: Callable[[], T],
    *,
    max_attempts: int,
    initial_backoff: float,
    max_backoff: float,
    max_wait: Optional[float] = None,
) -> T:
    """``fn()`` retried like a bulk request (connection errors, timeouts, 429/502/503/504); the last
    error propagates once the budget is spent."""
    for attempt in Retrying(**_retry_policy(what, max_attempts, initial_backoff, max_backoff, max_wait)):
        with attempt:
            return fn()
    raise AssertionError("unreachable")  # pragma: no cover


async def async_retry_request(
    what: str,
    fn: Callable[[], Awaitable[T]],
    *,
    max_attempts: int,
    initial_backoff: float,
    max_backoff: float,
    max_wait: Optional[float] = None,
) -> T:
    """``retry_request`` for a coroutine function."""
    async for attempt in AsyncRetrying(**_retry_policy(what, max_attempts, initial_backoff, max_backoff, max_wait)):
        with attempt:
            return await fn()
    raise AssertionError("unreachable")  # pragma: no cover


class _Bulk:
    """The state of one ``bulk_index`` call, shared by the sync and async drivers: what is pending,
    acknowledged, finally rejected; what one pass's items mean; what a final error means."""

    def __init__(
        self, index: str, sources: Mapping[str, dict[str, Any]], chunk_size: int, refresh: str, max_attempts: int
    ) -> None:
        self.index, self.sources, self.chunk_size, self.refresh = index, sources, chunk_size, refresh
        self.max_attempts = max_attempts
        self.attempts = 0  # requests sent so far (the time budget may end retries before max_attempts)
        self.pending = dict(sources)
        self.failed: dict[str, str] = {}
        self.acknowledged: set[str] = set()
        self.retry_now: dict[str, str] = {}
        self.started = time.monotonic()

    def actions(self) -> Iterator[dict[str, Any]]:
        self.retry_now = {}
        return ({"_op_type": "index", "_index": self.index, "_id": i, "_source": s} for i, s in self.pending.items())

    def options(self) -> dict[str, Any]:
        return dict(
            chunk_size=self.chunk_size,
            raise_on_error=False,
            raise_on_exception=True,
            yield_ok=True,
            refresh=self.refresh,
        )

    def item(self, ok: bool, result: Mapping[str, Any]) -> None:
        """Record one item's outcome as its chunk's response arrives."""
        item = next(iter(result.values()))
        doc_id = str(item.get("_id"))
        if ok:
            self.acknowledged.add(doc_id)
        elif item.get("status") in RETRY_STATUSES:
            self.retry_now[doc_id] = _reason(item)
        else:
            self.failed[doc_id] = _reason(item)

    def settle(self) -> None:
        """After a pass (complete or not): what was acknowledged or finally rejected is never sent again."""
        self.pending = {i: s for i, s in self.pending.items() if i not in self.acknowledged and i not in self.failed}

    def next_pass(self) -> None:
        """After a complete pass: keep only the retryable rejections; raise to retry them."""
        self.pending = {doc_id: self.pending[doc_id] for doc_id in self.retry_now}
        if self.pending:
            raise _ItemsPending(self.retry_now)

    def finish(self, client: Any, exc: Optional[BaseException]) -> Failures:
        if isinstance(exc, _ItemsPending):
            self.failed.update(
                {doc_id: f"{reason} (after {self.attempts} attempts)" for doc_id, reason in exc.reasons.items()}
            )
        elif exc is not None:
            if is_retryable(exc):
                raise StoreUnavailableError(
                    f"Elasticsearch at {host_of(client)} unavailable: bulk into {self.index!r} failed "
                    f"{self.attempts} times over {time.monotonic() - self.started:.1f} s (last error: "
                    f"{describe_failure(exc)}); {len(self.acknowledged)} of {len(self.sources)} documents were written",
                    len(self.acknowledged),
                ) from None
            self.failed.update({doc_id: f"bulk request failed: {describe_failure(exc)}" for doc_id in self.pending})
        return Failures(self.failed, written=len(self.acknowledged))


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
    bulk = _Bulk(index, sources, chunk_size, refresh, max_attempts)
    bulk_client = client.options(max_retries=0)  # retries are ours, with backoff
    try:
        policy = _retry_policy(f"bulk into {index}", max_attempts, initial_backoff, max_backoff, max_wait, sleep)
        for attempt in Retrying(**policy):
            with attempt:
                bulk.attempts = attempt.retry_state.attempt_number
                try:
                    for ok, result in helpers.streaming_bulk(bulk_client, bulk.actions(), **bulk.options()):
                        bulk.item(ok, result)
                finally:
                    bulk.settle()
                bulk.next_pass()
    except (_ItemsPending, ApiError, ESConnectionError, ConnectionTimeout) as exc:
        return bulk.finish(client, exc)
    return bulk.finish(client, None)


async def async_bulk_index(
    client: Any,
    index: str,
    sources: Mapping[str, dict[str, Any]],
    *,
    chunk_size: int,
    refresh: str,
    max_attempts: int,
    initial_backoff: float,
    max_backoff: float,
    max_wait: Optional[float] = None,
    sleep: Optional[Callable[[float], Awaitable[None]]] = None,
) -> Failures:
    """``bulk_index`` on an ``AsyncElasticsearch`` client (``helpers.async_streaming_bulk``,
    tenacity ``AsyncRetrying``): the same passes, accounting and errors."""
    from elasticsearch.helpers import async_streaming_bulk

    bulk = _Bulk(index, sources, chunk_size, refresh, max_attempts)
    bulk_client = client.options(max_retries=0)
    try:
        policy = _retry_policy(f"bulk into {index}", max_attempts, initial_backoff, max_backoff, max_wait, sleep)
        async for attempt in AsyncRetrying(**policy):
            with attempt:
                bulk.attempts = attempt.retry_state.attempt_number
                try:
                    async for ok, result in async_streaming_bulk(bulk_client, bulk.actions(), **bulk.options()):
                        bulk.item(ok, result)
                finally:
                    bulk.settle()
                bulk.next_pass()
    except (_ItemsPending, ApiError, ESConnectionError, ConnectionTimeout) as exc:
        return bulk.finish(client, exc)
    return bulk.finish(client, None)
