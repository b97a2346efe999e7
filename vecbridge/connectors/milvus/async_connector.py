"""``AsyncMilvusConnector``: the ``AsyncConnector`` protocol on ``pymilvus.AsyncMilvusClient``.

Same URIs, results, errors, write accounting and retry budget as ``MilvusConnector``, which it
shares everything with but the I/O: request building and result conversion
(``connectors/milvus/requests.py``), and settings, caches, row validation, chunk splitting and error
mapping (``MilvusCommon``, ``connectors/milvus/common.py``). It uses the sync connector beside it
(``self.sync``) through its public methods only.

- **Data path on the async client**: ``upsert``, ``delete``, ``get``, ``count`` and every search are
  ``await``-ed gRPC calls (grpc.aio), retried with tenacity's ``AsyncRetrying`` (``calls.async_retrying``).
  pymilvus 2.5 opens a Milvus Lite *file* for ``AsyncMilvusClient`` too (its embedded server is
  shared with a ``MilvusClient`` on the same file in the process), so this works on a Lite file, on
  ``milvus_lite.server`` and on a Milvus server alike.
- **Schema and state through the sync connector, in a worker thread**: ``AsyncMilvusClient`` 2.5
  lacks ``has_collection``, ``describe_collection``, ``list_indexes``, ``describe_index`` and
  ``get_server_version``, which creating / verifying a collection and probing the engine need; so
  ``ensure_collection``, ``has_collection``, ``drop_collection``, ``read_state``, ``write_state`` and
  the first look-up of a collection's spec run ``MilvusConnector`` (``self.sync``, same URI) with
  ``asyncio.to_thread``: off the event loop, once per collection, never on the search path.
- **iterate** runs the sync client's ``query_iterator`` (``AsyncMilvusClient`` 2.5 has none), each
  batch fetched in a worker thread: the same paging by primary key as ``MilvusConnector.iterate``.

The async client lives on the event loop that first used it: use one connector from one loop.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Optional, TypeVar, Union

import numpy as np
from pydantic import SecretStr

from vecbridge.connectors.milvus import answers, lite, requests as rq
from vecbridge.connectors.milvus.calls import NO_DRIVER_RETRY, async_retrying, quiet_driver_logs, short_error
from vecbridge.connectors.milvus.common import MilvusCommon, Progress, check_batch_vectors
from vecbridge.connectors.milvus.connector import MilvusConnector
from vecbridge.schemas import (
    CollectionNotFoundError,
    CollectionSpec,
    ConnectorError,
    Document,
    Filter,
    Hit,
    IndexBatch,
    SparseVector,
    StoreUnavailableError,
    VecbridgeError,
)

T = TypeVar("T")


class AsyncMilvusConnector(MilvusCommon):
    """Milvus Lite / Milvus server behind the ``vecbridge.connectors.base.AsyncConnector`` protocol
    (settings, caches, error mapping and rows: ``MilvusCommon``, shared with ``MilvusConnector``)."""

    MAX_IN_FLIGHT = 32
    """Most requests this connector has in flight at once; more wait their turn. Milvus Lite's server
    drops the connection (``received initial metadata size exceeds limit``, then ``Socket closed``)
    when some 200 concurrent searches and upserts reach it at once."""

    def __init__(
        self,
        uri: str = "./vecbridge.db",
        token: Union[SecretStr, str, None] = None,
        *,
        batch_size: int = 1000,
        timeout: Optional[float] = None,
        retry_attempts: int = 8,
        retry_max_wait: float = 30.0,
    ) -> None:
        """Validate the settings (as ``MilvusConnector``); opens nothing."""
        super().__init__(
            uri,
            token,
            batch_size=batch_size,
            timeout=timeout,
            retry_attempts=retry_attempts,
            retry_max_wait=retry_max_wait,
        )
        self.sync = MilvusConnector(
            uri,
            self._token,
            batch_size=batch_size,
            timeout=timeout,
            retry_attempts=retry_attempts,
            retry_max_wait=retry_max_wait,
        )
        self._client: Any = None
        self._client_lock = asyncio.Lock()
        self._in_flight = asyncio.Semaphore(self.MAX_IN_FLIGHT)

    async def _connect(self) -> Any:
        if self._client is None:
            async with self._client_lock:
                if self._client is None:
                    from pymilvus import AsyncMilvusClient

                    token = self._token.get_secret_value() if self._token else ""
                    alias = f"vecbridge-async-{uuid.uuid4().hex}"  # own connection: close() drops only ours
                    connect = lambda: AsyncMilvusClient(  # noqa: E731
                        uri=self.uri, token=token, timeout=self.timeout, alias=alias
                    )
                    self._client = lite.opened(self.uri, connect) if self.is_local else connect()
        return self._client

    async def _once(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        """One try of ``fn(client)``: connected, within the in-flight bound, driver logs quiet."""
        client = await self._connect()
        async with self._in_flight:
            with quiet_driver_logs():
                return await fn(client)

    async def _call(self, action: str, collection: str, fn: Callable[[Any], Awaitable[T]]) -> T:
        """``await fn(client)`` with ``MilvusConnector._call``'s retries and error mapping."""
        started = time.monotonic()
        failed: Optional[Exception] = None
        try:  # most calls succeed at once: the retry policy is built only after a failure
            return await self._once(fn)
        except VecbridgeError:
            raise
        except Exception as exc:
            failed = exc
        retry = async_retrying(
            self.retry_attempts,
            max(0.0, self.retry_max_wait - (time.monotonic() - started)),
            f"Milvus {action}" + (f" on {collection!r}" if collection else ""),
        )
        try:
            async for attempt in retry:
                with attempt:
                    if failed is not None:  # the first try, already made: same counts, waits and logs
                        first, failed = failed, None
                        raise first
                    return await self._once(fn)
        except VecbridgeError:
            raise
        except Exception as exc:
            if self._client is None:  # the client itself could not be created
                raise ConnectorError(f"cannot open Milvus at {self!r}: {short_error(exc)}") from exc
            self._raise_final(action, collection, exc, retry.statistics.get("attempt_number", 1), started)
        raise AssertionError("unreachable")  # pragma: no cover

    def forget(self, collection: str) -> None:
        """``MilvusCommon.forget``, for this connector and the sync one beside it."""
        super().forget(collection)
        self.sync.forget(collection)

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    async def _spec(self, collection: str) -> CollectionSpec:
        spec = self.cached_spec(collection)
        if spec is None:
            info, flagged, typed_meta = await self._in_thread(self.sync.collection_info, collection)
            spec = self.remember(info, flagged, typed_meta)
        return spec

    async def _lite(self) -> bool:
        return (await self._in_thread(lambda: self.sync.capabilities)).lite

    # ---- schema and state: MilvusConnector in a worker thread (see the module docstring) ----
    async def ensure_collection(self, spec: CollectionSpec) -> None:
        super().forget(spec.name)  # learnt again from the sync connector, which has just checked it
        await self._in_thread(self.sync.ensure_collection, spec)

    async def has_collection(self, name: str) -> bool:
        return await self._in_thread(self.sync.has_collection, name)

    async def drop_collection(self, name: str) -> None:
        await self._in_thread(self.sync.drop_collection, name)
        self.forget(name)

    async def read_state(self, collection: str) -> Optional[dict[str, Any]]:
        return await self._in_thread(self.sync.read_state, collection)

    async def write_state(self, collection: str, state: dict[str, Any]) -> None:
        await self._in_thread(self.sync.write_state, collection, state)

    async def append_log(self, collection: str, entry: dict[str, Any]) -> str:
        return await self._in_thread(self.sync.append_log, collection, entry)

    async def log_versions(self, collection: str) -> list[str]:
        return await self._in_thread(self.sync.log_versions, collection)

    async def read_log(self, collection: str, versions: Sequence[str]) -> dict[str, dict[str, Any]]:
        return await self._in_thread(self.sync.read_log, collection, versions)

    async def remove_log(self, collection: str, versions: Sequence[str]) -> None:
        await self._in_thread(self.sync.remove_log, collection, versions)

    # ---- writes -----------------------------------------------------------------------
    async def upsert(self, collection: str, batch: IndexBatch) -> int:
        """``MilvusConnector.upsert`` on the async client: same chunks, splitting and ``WriteError``."""
        spec = await self._spec(collection)
        check_batch_vectors(spec, batch)
        lite = await self._lite()
        progress = Progress()
        rows = self._rows(spec, batch, progress.failed, lite=lite)
        for start in range(0, len(rows), self.batch_size):
            try:
                await self._write_chunk(collection, rows[start : start + self.batch_size], progress)
            except StoreUnavailableError as exc:
                raise progress.unavailable(exc, len(batch)) from None
        return progress.finish(collection, len(batch))

    async def _write_chunk(self, collection: str, chunk: list[dict[str, Any]], progress: Progress) -> None:
        try:
            result = await self._call("upsert", collection, lambda c: c.upsert(collection, chunk, **NO_DRIVER_RETRY))
        except (StoreUnavailableError, CollectionNotFoundError):
            raise
        except ConnectorError as exc:
            for part in progress.split_rejected(chunk, exc):
                await self._write_chunk(collection, part, progress)
            return
        progress.acknowledge(result, chunk)

    async def delete(
        self, collection: str, ids: Optional[Sequence[str]] = None, filter: Optional[Filter] = None
    ) -> int:
        rq.check_delete(ids, filter)
        spec = await self._spec(collection)
        expr = rq.delete_expression(spec, ids, filter, await self._lite())
        if expr is None:
            return 0
        n = await self._count_expr(collection, expr)
        if n:
            await self._call("delete", collection, lambda c: c.delete(collection, filter=expr, **NO_DRIVER_RETRY))
        return n

    async def delete_all(self, collection: str) -> int:
        """``MilvusConnector.delete_all``: every document; the collection and its state stay."""
        await self._spec(collection)
        n = await self._count_expr(collection, rq.ALL_ROWS)
        if n:
            await self._call(
                "delete_all", collection, lambda c: c.delete(collection, filter=rq.ALL_ROWS, **NO_DRIVER_RETRY)
            )
        return n

    # ---- reads ------------------------------------------------------------------------
    async def get(self, collection: str, ids: Sequence[str], with_vectors: bool = False) -> list[Document]:
        spec = await self._spec(collection)
        args = rq.get_args(spec, with_vectors, self.cached_flag(collection))
        found: dict[str, Document] = {}
        for expr in rq.get_expressions(ids):

            def query(c: Any, expr: str = expr) -> Any:
                return c.query(collection, filter=expr, **args)

            rows = await self._call("get", collection, query)
            found.update(rq.documents(rows, spec, with_vectors))
        return [found[i] for i in ids if i in found]

    async def iterate(
        self, collection: str, filter: Optional[Filter] = None, batch_size: int = 1000, with_vectors: bool = False
    ) -> AsyncIterator[list[Document]]:
        """``MilvusConnector.iterate`` (see the module docstring), each batch read in a worker thread."""
        spec, iterator = await self._in_thread(self.sync.open_iterator, collection, filter, batch_size, with_vectors)
        try:
            while True:
                batch = await self._in_thread(self.sync.next_batch, collection, spec, iterator, with_vectors)
                if not batch:
                    return
                yield batch
        finally:
            await self._in_thread(self.sync.close_iterator, iterator)

    async def count(self, collection: str, filter: Optional[Filter] = None) -> int:
        return await self._count_expr(collection, rq.expression(await self._spec(collection), filter))

    async def _count_expr(self, collection: str, expr: str) -> int:
        rows = await self._call("count", collection, lambda c: c.query(collection, filter=expr, **rq.COUNT_ARGS))
        return rq.count(rows)

    # ---- search -----------------------------------------------------------------------
    async def search_dense(
        self,
        collection: str,
        vector: np.ndarray,
        k: int,
        filter: Optional[Filter] = None,
        ef: Optional[int] = None,
        *,
        content: bool = True,
    ) -> Sequence[Hit]:
        spec = await self._spec(collection)
        request = rq.dense_search(spec, vector, k, filter, ef, content, flagged=self.cached_flag(collection))
        return (await self._search("search_dense", collection, request, content))[0]

    async def search_sparse(
        self,
        collection: str,
        vector: SparseVector,
        k: int,
        filter: Optional[Filter] = None,
        field: str = "sparse",
        *,
        content: bool = True,
    ) -> Sequence[Hit]:
        request = rq.sparse_search(await self._spec(collection), vector, k, filter, field, content)
        if request is None:
            return []
        return (await self._search("search_sparse", collection, request, content))[0]

    async def search_dense_many(
        self,
        collection: str,
        vectors: Sequence[np.ndarray],
        k: int,
        filter: Optional[Filter] = None,
        ef: Optional[int] = None,
        *,
        content: bool = True,
    ) -> list[Sequence[Hit]]:
        spec = await self._spec(collection)
        request = rq.dense_search_many(spec, vectors, k, filter, ef, content, flagged=self.cached_flag(collection))
        if request is None:
            return []
        return await self._search("search_dense", collection, request, content, len(vectors))

    async def search_sparse_many(
        self,
        collection: str,
        vectors: Sequence[SparseVector],
        k: int,
        filter: Optional[Filter] = None,
        field: str = "sparse",
        *,
        content: bool = True,
    ) -> list[Sequence[Hit]]:
        asked, request = rq.sparse_search_many(await self._spec(collection), vectors, k, filter, field, content)
        if request is None:
            return [[] for _ in vectors]
        found = await self._search("search_sparse", collection, request, content, len(asked))
        return rq.placed(asked, len(vectors), found)

    async def search_text(
        self, collection: str, text: str, k: int, filter: Optional[Filter] = None, *, content: bool = True
    ) -> Sequence[Hit]:
        request = rq.text_search(await self._spec(collection), text, k, filter, content)
        if request is None:
            return []
        return (await self._search("search_text", collection, request, content))[0]

    async def _search(
        self, action: str, collection: str, request: dict[str, Any], content: bool, queries: int = 1
    ) -> list[Sequence[Hit]]:
        """Each query's hits of one search call, read by column from the answer message (``answers``)."""
        answer = await self._call(action, collection, lambda c: answers.search_answer_async(c, collection, request))
        return answers.answer_hits(answer, content, queries)

    async def search_hybrid_native(
        self,
        collection: str,
        dense: Optional[np.ndarray],
        sparse: dict[str, SparseVector],
        k: int,
        filter: Optional[Filter] = None,
        rrf_k: float = 60.0,
        window: int = 50,
    ) -> list[Hit]:
        spec = await self._spec(collection)
        flagged = self.cached_flag(collection)
        request = rq.hybrid_search(spec, dense, sparse, k, filter, rrf_k, window, flagged)
        if request is None:
            return []
        return list(
            rq.hits(
                await self._call("search_hybrid_native", collection, lambda c: c.hybrid_search(collection, **request))
            )
        )

    # ---- lifecycle --------------------------------------------------------------------
    async def close(self) -> None:
        """Close the async client, then ``self.sync``; for a Lite file, the last connector of the
        process on it stops its embedded server (``lite``), releasing the file lock."""
        client, self._client = self._client, None
        self._client_lock = asyncio.Lock()  # a later use may come from another loop
        self._in_flight = asyncio.Semaphore(self.MAX_IN_FLIGHT)
        try:
            if client is not None:
                try:
                    await client.close()
                finally:
                    if self.is_local:
                        await self._in_thread(lite.closed, self.uri)  # may stop the file's server
        finally:
            await self._in_thread(self.sync.close)

    async def __aenter__(self) -> AsyncMilvusConnector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
