"""Bulk writes: ``helpers.streaming_bulk`` in chunks, tenacity retries, per-document failures.

One attempt sends every pending action. Items rejected with a retryable status (429, 502, 503,
504) stay pending; other rejections are final. A failure of the whole request (connection error,
retryable HTTP status) keeps everything pending: re-sending is safe because each action is an
``index`` with a fixed ``_id``. Between attempts tenacity waits ``initial * 2**n`` seconds (capped).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Callable

from elasticsearch import ApiError, Elasticsearch, helpers
from elasticsearch import ConnectionError as ESConnectionError
from elasticsearch import ConnectionTimeout
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

RETRY_STATUSES = frozenset({429, 502, 503, 504})
log = logging.getLogger(__name__)


class _ItemsPending(Exception):
    """Some items were rejected with a retryable status; carries their reasons."""

    def __init__(self, reasons: dict[str, str]):
        super().__init__(f"{len(reasons)} documents rejected with a retryable status")
        self.reasons = reasons


def is_retryable(exc: BaseException) -> bool:
    """Retry on pending items, connection errors/timeouts and 429 / 502 / 503 / 504 responses."""
    if isinstance(exc, (_ItemsPending, ESConnectionError, ConnectionTimeout)):
        return True
    return isinstance(exc, ApiError) and exc.meta.status in RETRY_STATUSES


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
) -> dict[str, str]:
    """Index ``{id: _source}``; returns ``{id: reason}`` for the documents that were not written."""
    pending = dict(sources)
    failed: dict[str, str] = {}
    bulk_client = client.options(max_retries=0)  # retries are ours, with backoff
    retrying = Retrying(
        stop=stop_after_attempt(max_attempts),
        wait=wait_exponential(multiplier=initial_backoff, max=max_backoff),
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
                retry_now = _send(bulk_client, index, pending, chunk_size, refresh, failed)
                pending = {doc_id: pending[doc_id] for doc_id in retry_now}
                if pending:
                    raise _ItemsPending(retry_now)
    except _ItemsPending as exc:
        failed.update({doc_id: f"{reason} (after {max_attempts} attempts)" for doc_id, reason in exc.reasons.items()})
    except (ApiError, ESConnectionError, ConnectionTimeout) as exc:
        failed.update({doc_id: f"bulk request failed: {exc}" for doc_id in pending})
    return failed


def _send(
    client: Elasticsearch,
    index: str,
    pending: Mapping[str, dict[str, Any]],
    chunk_size: int,
    refresh: str,
    failed: dict[str, str],
) -> dict[str, str]:
    """One pass over ``pending``; records final failures in ``failed``, returns retryable ones."""
    actions = ({"_op_type": "index", "_index": index, "_id": i, "_source": s} for i, s in pending.items())
    retry: dict[str, str] = {}
    for ok, result in helpers.streaming_bulk(
        client, actions, chunk_size=chunk_size, raise_on_error=False, raise_on_exception=True,
        yield_ok=False, refresh=refresh,
    ):
        if ok:
            continue
        item = next(iter(result.values()))
        doc_id = str(item.get("_id"))
        if item.get("status") in RETRY_STATUSES:
            retry[doc_id] = _reason(item)
        else:
            failed[doc_id] = _reason(item)
    return retry
