"""Bridges between the sync ``Connector`` and the ``AsyncConnector`` protocols.

- ``ThreadedConnector(connector)``: an ``AsyncConnector`` over any sync ``Connector``; each call runs
  in a worker thread (the loop's default executor, or ``executor``), so the event loop never blocks.
  The fallback for a store without an async client.
- ``BlockingConnector(async_connector)``: a sync ``Connector`` over an ``AsyncConnector``; each call
  is submitted to an event loop running in another thread and waited for. Without ``loop`` it runs
  a private loop in a daemon thread (stopped by ``close``, started again by a later call). The
  conformance suite runs the async connectors through it, and ``AsyncHybridIndex.upsert`` hands it
  to the sync ingestion pipeline.

Both have the optional multi-query searches (``search_dense_many`` / ``search_sparse_many``) exactly when
the connector they wrap has them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
import types
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import Executor
from typing import Any, Optional, TypeVar

from vecbridge.connectors.base import AsyncConnector, Connector, supports_search_without_content
from vecbridge.schemas import ConfigurationError, ConnectorError

T = TypeVar("T")
_DONE = object()
_LOOP_CHECK_S = 1.0  # how often a blocked call checks that the loop it waits on still runs
METHODS = (
    "ensure_collection",
    "has_collection",
    "drop_collection",
    "read_state",
    "write_state",
    "upsert",
    "delete",
    "get",
    "count",
    "search_dense",
    "search_sparse",
    "search_text",
    "search_hybrid_native",
    "delete_all",
    "append_log",
    "log_versions",
    "read_log",
    "remove_log",
)
"""The protocol methods besides ``close`` and ``iterate`` (a generator; bridged on its own)."""
OPTIONAL_METHODS = ("search_dense_many", "search_sparse_many")
"""Optional protocol methods: an adapter has one exactly when the connector it wraps has it, so the facade's
batched searches (``vecbridge/store_batches.py``) still share one store call through the adapter."""


def _bridge_optional(adapter: Any, wrapped: Any, bridge: Callable[[str], Callable[..., Any]]) -> None:
    """Bind ``bridge(name)`` on ``adapter`` for each of ``OPTIONAL_METHODS`` that ``wrapped`` has."""
    for name in OPTIONAL_METHODS:
        if callable(getattr(wrapped, name, None)):
            setattr(adapter, name, types.MethodType(bridge(name), adapter))


def _in_thread(name: str) -> Callable[..., Coroutine[Any, Any, Any]]:
    async def call(self: ThreadedConnector, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(getattr(self.sync, name), *args, **kwargs))

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``Connector.{name}`` of the wrapped connector, in a worker thread."
    return call


class ThreadedConnector:
    """``AsyncConnector`` over a sync ``Connector`` (which must be thread-safe, as ours are)."""

    def __init__(self, connector: Connector, executor: Optional[Executor] = None) -> None:
        self.sync = connector
        self.executor = executor
        _bridge_optional(self, connector, _in_thread)

    def __repr__(self) -> str:
        return f"ThreadedConnector({self.sync!r})"

    @property
    def SEARCH_WITHOUT_CONTENT(self) -> bool:  # noqa: N802 - the wrapped connector's class flag
        return supports_search_without_content(self.sync)

    for _name in METHODS:
        locals()[_name] = _in_thread(_name)
    del _name

    async def iterate(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        """``Connector.iterate`` of the wrapped connector, each batch read in a worker thread."""
        loop = asyncio.get_running_loop()
        batches = await loop.run_in_executor(self.executor, lambda: iter(self.sync.iterate(*args, **kwargs)))
        done = object()
        try:
            while True:
                batch = await loop.run_in_executor(self.executor, next, batches, done)
                if batch is done:
                    return
                yield batch
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                await loop.run_in_executor(self.executor, close)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self.executor, self.sync.close)


def _blocking(name: str) -> Callable[..., Any]:
    def call(self: BlockingConnector, *args: Any, **kwargs: Any) -> Any:
        return self.run(getattr(self.wrapped, name)(*args, **kwargs))

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``AsyncConnector.{name}`` of the wrapped connector, awaited on its event loop."
    return call


class BlockingConnector:
    """Sync ``Connector`` over an ``AsyncConnector`` whose loop runs in another thread."""

    def __init__(self, connector: AsyncConnector, loop: Optional[asyncio.AbstractEventLoop] = None) -> None:
        self.wrapped = connector
        self._given_loop = loop
        _bridge_optional(self, connector, _blocking)
        self._own: Optional[tuple[asyncio.AbstractEventLoop, threading.Thread]] = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The given loop, or the private one (started on first use, again after ``close``)."""
        if self._given_loop is not None:
            return self._given_loop
        with self._lock:
            if self._own is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="vecbridge-async-loop", daemon=True)
                thread.start()
                self._own = (loop, thread)
            return self._own[0]

    def __repr__(self) -> str:
        return f"BlockingConnector({self.wrapped!r})"

    @property
    def SEARCH_WITHOUT_CONTENT(self) -> bool:  # noqa: N802 - the wrapped connector's class flag
        return supports_search_without_content(self.wrapped)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for its result (its exception is raised here)."""
        if self._on_loop_thread():
            coroutine.close()
            raise ConfigurationError(
                "BlockingConnector called from its own event loop's thread (it would wait forever); "
                "await the async connector there instead"
            )
        loop = self.loop
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        while True:
            try:
                return future.result(timeout=_LOOP_CHECK_S)
            except concurrent.futures.TimeoutError:
                if not loop.is_running():  # a stopped loop never finishes it: fail instead of hanging
                    future.cancel()
                    raise ConnectorError(
                        "the event loop of the async connector stopped before the call finished"
                    ) from None

    def _on_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    for _name in METHODS:
        locals()[_name] = _blocking(_name)
    del _name

    def iterate(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """``AsyncConnector.iterate`` of the wrapped connector: each batch awaited on its loop."""
        batches = self.wrapped.iterate(*args, **kwargs)

        async def step() -> Any:
            try:
                return await batches.__anext__()
            except StopAsyncIteration:
                return _DONE

        try:
            while True:
                batch = self.run(step())
                if batch is _DONE:
                    return
                yield batch
        finally:
            close = getattr(batches, "aclose", None)  # async generators have it; other iterators may not
            if close is not None:
                self.run(close())

    def close(self) -> None:
        """Close the wrapped connector and stop the private loop, if any (like the sync connectors,
        the adapter may be used again afterwards: it reconnects)."""
        try:
            self.run(self.wrapped.close())
        finally:
            with self._lock:
                own, self._own = self._own, None
            if own is not None:
                loop, thread = own
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout=10)
                loop.close()
