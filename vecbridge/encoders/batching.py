"""``QueryBatcher``: concurrent ``encode_queries`` calls on one encoder coalesced into one encoder call.

A service answering many searches at once encodes one short query per request. On CPU, many small
encoder calls running at once compete for the same cores (each onnxruntime run starts its own
intra-op threads) and each pays the per-call overhead. The batcher instead lets one call run at a
time per encoder; the calls that arrive while it runs wait, and the next of them to go encodes all
the waiting queries in one call, then hands every caller its own rows. A lone caller never waits
(``wait_ms=0``, the default): batches form only when calls overlap.

No thread of its own: the caller that finds the encoder idle runs the batch (leader), the others
wait on a condition that the leader always signals when its batch ends, error or not. So nothing
needs shutting down and a wait without timeout cannot outlive the batch it waits for.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Optional, TypeVar

from vecbridge.encoders.base import check_texts
from vecbridge.schemas import ConfigurationError, Embeddings

MAX_BATCH = 64
"""Most items (query texts, search requests) one coalesced call takes (a caller with more runs alone)."""
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Request(Generic[T]):
    """One caller's items and, once its batch ended, its part of the result or its error."""

    items: list[T]
    result: Any = None
    error: Optional[BaseException] = None
    taken: bool = False  # in a batch that runs now (another caller leads it)
    done: bool = False

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


def _take(
    leader: _Request[T], waiting: list[_Request[T]], max_batch: int
) -> tuple[list[_Request[T]], list[_Request[T]]]:
    """(the leader's request plus waiting ones, first come first, up to ``max_batch`` items, all
    marked taken; the requests still waiting)."""
    batch, size = [leader], len(leader.items)
    for request in waiting:
        if request is not leader and size + len(request.items) <= max_batch:
            batch.append(request)
            size += len(request.items)
    for request in batch:
        request.taken = True
    return batch, [r for r in waiting if not r.taken]


def _share(batch: list[_Request[T]], merged: R, part: Callable[[R, int, int], R]) -> None:
    """Each request of ``batch`` its part of ``merged`` (the result of all their items, in order)."""
    start = 0
    for request in batch:
        stop = start + len(request.items)
        request.result = merged if len(batch) == 1 else part(merged, start, stop)
        start = stop


def _check_rows(result: Embeddings, n: int, encoder: Any) -> Embeddings:
    rows = {len(x) for x in (result.dense, result.sparse, result.colbert) if x is not None}
    if rows != {n}:
        raise ValueError(f"encoder {getattr(encoder, 'name', encoder)!r} returned {sorted(rows)} rows for {n} texts")
    return result


def check_limits(max_batch: Any, wait_ms: Any) -> None:
    if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch <= 0:
        raise ConfigurationError(f"max_batch must be a positive int, got {max_batch!r}")
    if isinstance(wait_ms, bool) or not isinstance(wait_ms, (int, float)) or not 0 <= wait_ms < 1000:
        raise ConfigurationError(f"wait_ms must be a number in [0, 1000), got {wait_ms!r}")


class Coalescer(Generic[T, R]):
    """Concurrent ``call(items)`` coalesced into one ``run(all items)`` (the module docstring's scheme).

    ``run(items)`` returns one result for all the items it is given; ``part(result, start, stop)``
    the share of ``items[start:stop]``. A caller gets ``part`` of its own items, or, if the
    coalesced run fails, the result or error of ``run`` of its items alone. ``max_batch``: most items
    one run takes (a call with at least that many runs alone); ``wait_ms``: how long a batch's
    leader waits for more callers (0: batches form only from calls that overlap a running one);
    ``max_running``: batches that may run at once (2: one can use the CPU while another waits on I/O).
    """

    def __init__(
        self,
        run: Callable[[list[T]], R],
        part: Callable[[R, int, int], R],
        max_batch: int = MAX_BATCH,
        wait_ms: float = 0.0,
        max_running: int = 1,
    ) -> None:
        check_limits(max_batch, wait_ms)
        if isinstance(max_running, bool) or not isinstance(max_running, int) or max_running <= 0:
            raise ConfigurationError(f"max_running must be a positive int, got {max_running!r}")
        self.run, self.part, self.max_batch, self.wait_ms = run, part, max_batch, float(wait_ms)
        self.max_running = max_running
        self._cond = threading.Condition()
        self._waiting: list[_Request[T]] = []
        self._running = 0
        self.calls = 0  # runs made for coalesced batches (observability, tests)

    def call(self, items: Sequence[T]) -> R:
        """``run(items)``, run together with the calls that overlap it."""
        items = list(items)
        if not items or len(items) >= self.max_batch:
            return self.run(items)
        request = _Request(items)
        with self._cond:
            self._waiting.append(request)
            while (request.taken or self._running >= self.max_running) and not request.done:
                self._cond.wait()  # a leader notifies in a ``finally`` when its batch ends
            if request.done:
                return request.outcome()
            self._running += 1  # this caller leads the next batch
            batch = self._gather(request)
        try:
            self._run(batch)
        finally:
            with self._cond:
                for member in batch:
                    if member.error is None and member.result is None:
                        member.error = RuntimeError("the coalesced call was interrupted")
                    member.done = True
                self._running -= 1
                self._cond.notify_all()
        return request.outcome()

    def _gather(self, leader: _Request[T]) -> list[_Request[T]]:
        """The leader's request plus waiting ones (first come first) up to ``max_batch`` items; called
        holding the condition, waits up to ``wait_ms`` for more when asked to."""
        if self.wait_ms > 0:
            deadline = time.monotonic() + self.wait_ms / 1000
            while sum(len(r.items) for r in self._waiting) < self.max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
        batch, self._waiting = _take(leader, self._waiting, self.max_batch)
        return batch

    def _run(self, batch: list[_Request[T]]) -> None:
        """One ``run`` for the batch's items, each request given its part; on failure, each request
        alone (so every caller gets its own result or its own error)."""
        items = [item for r in batch for item in r.items]
        self.calls += 1
        try:
            merged = self.run(items)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            for request in batch:
                try:
                    request.result = self.run(request.items)
                except Exception as own:
                    request.error = own
            return
        _share(batch, merged, self.part)


class QueryBatcher(Coalescer[str, Embeddings]):
    """Coalesces concurrent ``encode_queries`` calls on ``encoder`` (see the module docstring).

    ``max_batch``: most texts one coalesced call takes (default ``MAX_BATCH``); a single call with
    at least that many texts goes to the encoder directly. ``wait_ms``: how long the caller that
    starts a batch waits for more callers to join it (default 0: batches form only from calls that
    arrive while the previous batch runs, so a lone caller pays nothing).

    Each caller gets exactly the rows of its own texts, in its order. They equal an unbatched
    ``encode_queries`` where the encoder's rows depend on their own text only (the int8 ONNX graph,
    which runs each text alone; BM25); a batch-padded fp32 graph may differ in the last float bits,
    as in any batch. If a coalesced call fails, each caller's texts are encoded again alone, so an
    error reaches only the caller whose texts caused it.
    """

    def __init__(self, encoder: Any, max_batch: int = MAX_BATCH, wait_ms: float = 0.0) -> None:
        self.encoder = encoder
        super().__init__(self._encode, _rows, max_batch, wait_ms)

    def _encode(self, texts: list[str]) -> Embeddings:
        if not texts or len(texts) >= self.max_batch:
            return self.encoder.encode_queries(texts)  # a direct call: the encoder's own checks
        return _check_rows(self.encoder.encode_queries(texts), len(texts), self.encoder)

    def encode_queries(self, texts: Sequence[str]) -> Embeddings:
        """``encoder.encode_queries(texts)``, run together with the calls that overlap it."""
        check_texts(texts)
        return self.call(texts)


def _rows(result: Embeddings, start: int, stop: int) -> Embeddings:
    return result.select(range(start, stop))


class AsyncCoalescer(Generic[T, R]):
    """``Coalescer`` for coroutines of one event loop: concurrent ``await call(items)`` coalesced
    into one ``await run(all items)``, at most ``max_running`` runs at once; same parts, same
    fallback (each caller's items alone when the coalesced run fails). A run cancelled midway
    leaves its other callers an error saying so."""

    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[R]],
        part: Callable[[R, int, int], R],
        max_batch: int = MAX_BATCH,
        max_running: int = 1,
    ) -> None:
        check_limits(max_batch, 0.0)
        if isinstance(max_running, bool) or not isinstance(max_running, int) or max_running <= 0:
            raise ConfigurationError(f"max_running must be a positive int, got {max_running!r}")
        self.run, self.part, self.max_batch, self.max_running = run, part, max_batch, max_running
        self._cond = asyncio.Condition()
        self._waiting: list[_Request[T]] = []
        self._running = 0
        self.calls = 0

    async def call(self, items: Sequence[T]) -> R:
        items = list(items)
        if not items or len(items) >= self.max_batch:
            return await self.run(items)
        request = _Request(items)
        async with self._cond:
            self._waiting.append(request)
            while (request.taken or self._running >= self.max_running) and not request.done:
                await self._cond.wait()
            if request.done:
                return request.outcome()
            self._running += 1
            batch, self._waiting = _take(request, self._waiting, self.max_batch)
        try:
            await self._run(batch)
        finally:
            for member in batch:
                if member.error is None and member.result is None:
                    member.error = RuntimeError("the coalesced call was interrupted")
                member.done = True
            self._running -= 1
            async with self._cond:
                self._cond.notify_all()
        return request.outcome()

    async def _run(self, batch: list[_Request[T]]) -> None:
        items = [item for r in batch for item in r.items]
        self.calls += 1
        try:
            merged = await self.run(items)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            outcomes = await asyncio.gather(*(self.run(r.items) for r in batch), return_exceptions=True)
            for request, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    request.error = outcome
                else:
                    request.result = outcome
            return
        _share(batch, merged, self.part)
