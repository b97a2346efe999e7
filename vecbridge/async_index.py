"""``AsyncHybridIndex``: ``HybridIndex`` for asyncio services (FastAPI, async RAG chains).

The same methods, arguments, results and errors as ``HybridIndex``, each ``async def``, over an
``AsyncConnector``; validation, request building, retriever selection, fusion and reranking are
``IndexCore``'s, shared with the sync index. What differs is only how work is scheduled:

- query encoders and rerankers (CPU-bound, blocking) run in a thread pool (``executor``, default:
  the loop's default executor), never on the event loop (``upsert`` encodes in its own thread);
- store calls are awaited; the retrievers of one hybrid query, and the queries of one
  ``search_batch``, run concurrently;
- ``upsert`` runs the sync ingestion pipeline (``vecbridge.ingest``: exact write accounting, dead
  letters) in a worker thread, its writes awaited on this loop through ``BlockingConnector``. That
  thread waits on the loop, so it is never one of a pool that the loop's own work needs (the
  default executor, ``executor``, a connector's ``to_thread``): it comes from ``INGEST_THREADS``,
  whose threads wait only for work that runs elsewhere. Any number of concurrent calls completes.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, TypeVar

from vecbridge import fusion, store_batches
from vecbridge.connectors import AsyncConnector, BlockingConnector
from vecbridge.corpus_stats import CorpusStats, corpus_stats_of, live_encoder
from vecbridge.encoders import Encoder
from vecbridge.encoders.batching import AsyncCoalescer
from vecbridge.encoders.reranker import Reranker
from vecbridge.index import (
    IndexCore,
    Retriever,
    check_k,
    content_ids,
    first_fetch,
    next_fetch,
    order_ties,
    with_content,
)
from vecbridge.ingest import IngestReport, OnError, ingest
from vecbridge.schemas import (
    CollectionSpec,
    ConnectorError,
    DenseIndex,
    Document,
    Embeddings,
    Filter,
    Hit,
    IndexBatch,
    Metric,
    ScalarType,
    SearchMode,
    SearchRequest,
)

if TYPE_CHECKING:
    from vecbridge.ingest.sync import SyncReport
    from vecbridge.tenants import AsyncTenantView

T = TypeVar("T")
INGEST_THREADS = 32
"""Most ``upsert`` pipelines running at once in a process (more wait their turn; see the module docstring)."""
_ingest_pool: Optional[ThreadPoolExecutor] = None
_ingest_pool_lock = threading.Lock()


def _ingest_executor() -> ThreadPoolExecutor:
    """The process-wide pool of the threads that run ``upsert`` pipelines (created on first use)."""
    global _ingest_pool
    with _ingest_pool_lock:
        if _ingest_pool is None:
            _ingest_pool = ThreadPoolExecutor(max_workers=INGEST_THREADS, thread_name_prefix="vecbridge-upsert")
        return _ingest_pool


async def settled_top_async(
    fetch: Callable[[int], Awaitable[Sequence[Hit]]], k: int, first: Optional[Sequence[Hit]] = None
) -> Sequence[Hit]:
    """``vecbridge.index.settled_top`` for an awaitable ``fetch``."""
    size: Optional[int] = first_fetch(k)
    while True:
        hits = await fetch(size) if first is None else first  # type: ignore[arg-type]
        first = None
        size = next_fetch(hits, k, size)  # type: ignore[arg-type]
        if size is None:
            return order_ties(hits)[:k]


@dataclass(frozen=True)
class _IngestTarget:
    """What ``vecbridge.ingest.ingest`` uses of an index, with a blocking view of the async connector."""

    spec: CollectionSpec
    retrievers: dict[str, Retriever]
    batch_size: int
    encode_documents: Callable[..., IndexBatch]
    check_vectors: Callable[[Document], None]
    connector: BlockingConnector
    write_batch: Optional[Callable[[IndexBatch], int]] = None  # None: ``connector.upsert``
    delete: Optional[Callable[..., int]] = None  # ``delete(ids=...)``; None: ``connector.delete``


class AsyncHybridIndex(IndexCore):
    """Dense / sparse / hybrid search over one collection of any ``AsyncConnector``.

    Build it with ``await AsyncHybridIndex.create(...)`` or ``await AsyncHybridIndex.open(...)``
    (both ensure the collection); the constructor only validates. Concurrency contract: as
    ``HybridIndex``'s thread-safety contract, for coroutines (and threads running their own loops
    with their own connectors): any methods may run concurrently and return what one caller would.
    """

    def __init__(
        self,
        connector: AsyncConnector,
        spec: CollectionSpec,
        retrievers: Sequence[Retriever],
        reranker: Optional[Reranker] = None,
        batch_size: int = 256,
        executor: Optional[Executor] = None,
        batch_queries: bool = True,
    ) -> None:
        super().__init__(
            connector, spec, retrievers, reranker=reranker, batch_size=batch_size, batch_queries=batch_queries
        )
        self.executor = executor
        self.corpus_stats: Optional[CorpusStats] = None  # set by ``open`` (a LiveBM25Encoder's statistics)
        # batch_queries: searches at once are coalesced whole, per event loop (``HybridIndex``)
        self._searches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncCoalescer] = (
            weakref.WeakKeyDictionary()
        )

    @classmethod
    async def open(
        cls,
        connector: AsyncConnector,
        spec: CollectionSpec,
        retrievers: Sequence[Retriever],
        reranker: Optional[Reranker] = None,
        batch_size: int = 256,
        executor: Optional[Executor] = None,
        batch_queries: bool = True,
    ) -> AsyncHybridIndex:
        """An index on ``spec``'s collection, created or verified in the store (``ensure_collection``)."""
        index = cls(
            connector,
            spec,
            retrievers,
            reranker=reranker,
            batch_size=batch_size,
            executor=executor,
            batch_queries=batch_queries,
        )
        await connector.ensure_collection(spec)
        if live_encoder(index.retrievers.values()) is not None:  # its store calls block: kept in worker threads
            blocking = BlockingConnector(connector, loop=asyncio.get_running_loop())
            index.corpus_stats = await index._offload(corpus_stats_of, blocking, spec.name, index.retrievers.values())
        return index

    @classmethod
    async def create(
        cls,
        connector: AsyncConnector,
        name: str,
        dense: Optional[Encoder] = None,
        sparse: Optional[Encoder] = None,
        filterable: Optional[dict[str, ScalarType | str]] = None,
        metric: Optional[Metric | str] = None,
        dense_index: DenseIndex = DenseIndex.FLAT,
        reranker: Optional[Reranker] = None,
        batch_size: int = 256,
        text: bool = False,
        text_analyzer: Optional[str] = None,
        executor: Optional[Executor] = None,
        tenant_key: Optional[str] = None,
        hnsw_m: Optional[int] = None,
        hnsw_ef_construction: Optional[int] = None,
        batch_queries: bool = True,
    ) -> AsyncHybridIndex:
        """``HybridIndex.create``: retrievers ``dense`` / ``sparse`` / ``text``, spec from the encoders
        (``metric`` None: from the dense encoder, see ``HybridIndex.create``)."""
        spec, retrievers = cls._spec_and_retrievers(
            name,
            dense,
            sparse,
            filterable,
            metric,
            dense_index,
            text,
            text_analyzer,
            tenant_key,
            {"hnsw_m": hnsw_m, "hnsw_ef_construction": hnsw_ef_construction},
        )
        return await cls.open(
            connector,
            spec,
            retrievers,
            reranker=reranker,
            batch_size=batch_size,
            executor=executor,
            batch_queries=batch_queries,
        )

    async def _offload(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the thread pool (encoders, rerankers: CPU-bound, blocking)."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, functools.partial(fn, *args))

    # ---- writes -----------------------------------------------------------------------
    async def upsert(
        self,
        documents: Iterable[Document],
        progress: bool = False,
        total: Optional[int] = None,
        on_error: OnError | str = OnError.SKIP,
        dead_letter: Optional[str] = None,
        encode_missing: bool = True,
    ) -> IngestReport:
        """``HybridIndex.upsert``: the same pipeline and report (``read == written + failed + skipped``,
        dead letters; given vectors written as given, only missing ones encoded), run in a thread of its
        own pool (never the one its writes need: see the module docstring); ``documents`` is a plain
        iterable, read there."""
        run = functools.partial(
            ingest,
            self._ingest_target(),
            documents,
            progress=progress,
            total=total,
            on_error=on_error,
            dead_letter=dead_letter,
            encode_missing=encode_missing,
        )
        return await asyncio.get_running_loop().run_in_executor(_ingest_executor(), run)

    add = upsert

    async def sync(
        self, source: Any, *, source_key: Optional[str] = None, cleanup: str = "none", **options: Any
    ) -> SyncReport:
        """``HybridIndex.sync``, run in a thread of the ``upsert`` pool (encoding and store calls as
        ``upsert``)."""
        from vecbridge.ingest.sync import sync

        run = functools.partial(sync, self._ingest_target(), source, source_key=source_key, cleanup=cleanup, **options)
        return await asyncio.get_running_loop().run_in_executor(_ingest_executor(), run)

    def _ingest_target(self) -> _IngestTarget:
        """What the (blocking) ingest pipeline writes through: this index's encoders and checks, and its
        connector called from a worker thread on the running loop."""
        blocking: Any = BlockingConnector(self.connector, loop=asyncio.get_running_loop())  # methods made at run time
        write_batch = delete = None
        if self.corpus_stats is not None:
            stats, name = self.corpus_stats, self.spec.name

            def write_batch(batch: IndexBatch) -> int:
                return stats.write(batch, lambda rows: blocking.upsert(name, rows))

            def delete(ids: list[str]) -> int:
                return stats.delete(ids, None, lambda: blocking.delete(name, ids=ids))

        return _IngestTarget(
            self.spec,
            self.retrievers,
            self.batch_size,
            self._encode_for_write,
            self.check_vectors,
            blocking,
            write_batch,
            delete,
        )

    async def delete(self, ids: Optional[Sequence[str]] = None, filter: Optional[Filter | dict] = None) -> int:
        ids, filter_ = self._delete_ids(ids), self._filter(filter)
        if self.corpus_stats is None:
            return await self.connector.delete(self.spec.name, ids=ids, filter=filter_)
        blocking: Any = BlockingConnector(self.connector, loop=asyncio.get_running_loop())  # methods made at run time
        remove = functools.partial(blocking.delete, self.spec.name, ids=ids, filter=filter_)
        return await self._offload(self.corpus_stats.delete, ids, filter_, remove)

    async def delete_all(self) -> int:
        """``HybridIndex.delete_all``."""
        deleted = await self.connector.delete_all(self.spec.name)
        if self.corpus_stats is not None:
            stats = self.corpus_stats
            await self._offload(lambda: stats.replace_all(stats.recount()))
        return deleted

    def _encode_for_write(self, documents: Sequence[Document], encode_missing: bool = True) -> IndexBatch:
        """``encode_documents`` with the BM25 statistics refreshed first (a worker thread)."""
        if self.corpus_stats is not None:
            try:
                self.corpus_stats.refresh()
            except ConnectorError:  # the write will meet the outage
                pass
        return self.encode_documents(documents, encode_missing=encode_missing)

    def _encode_queries(self, requests: Sequence[SearchRequest]) -> dict[int, Embeddings]:
        if self.corpus_stats is not None:
            self.corpus_stats.refresh()  # idf from the current statistics (runs in a worker thread)
        return super()._encode_queries(requests)

    def tenant(self, name: str) -> AsyncTenantView:
        """``HybridIndex.tenant``: the same scoping, for coroutines."""
        from vecbridge.tenants import AsyncTenantView

        return AsyncTenantView(self, name)

    async def get(self, ids: Sequence[str], with_vectors: bool = False) -> list[Document]:
        """``HybridIndex.get``."""
        return await self.connector.get(self.spec.name, self._ids(ids), with_vectors=bool(with_vectors))

    def iterate(
        self, filter: Optional[Filter | dict] = None, batch_size: int = 1000, with_vectors: bool = False
    ) -> AsyncIterator[Document]:
        """``HybridIndex.iterate`` as an async iterator (``async for doc in index.iterate(...)``);
        the arguments are checked here, before the first ``async for`` step."""
        batches = self.connector.iterate(
            self.spec.name, self._filter(filter), self._batch_size(batch_size), bool(with_vectors)
        )

        async def documents() -> AsyncIterator[Document]:
            try:
                async for batch in batches:
                    for doc in batch:
                        yield doc
            finally:
                await batches.aclose()

        return documents()

    async def count(self, filter: Optional[Filter | dict] = None) -> int:
        return await self.connector.count(self.spec.name, filter=self._filter(filter))

    # ---- search -----------------------------------------------------------------------
    async def search_by_vector(
        self,
        vector: Any,
        k: int = 10,
        filter: Optional[Filter | dict] = None,
        retriever: str = "dense",
        ef: Optional[int] = None,
    ) -> list[Hit]:
        """``HybridIndex.search_by_vector``."""
        name, query, k, filter_, unit = self._vector_query(vector, k, filter, retriever)
        ef = None if ef is None else check_k(ef, "ef")
        return self._annotate_single(name, await self._retrieve(name, query, k, filter_, ef), unit_query=unit)

    async def search(
        self,
        query: str,
        k: int = 10,
        mode: SearchMode | str = SearchMode.HYBRID,
        filter: Optional[Filter | dict] = None,
        rrf_k: float = fusion.RRF_K,
        weights: Optional[dict[str, float]] = None,
        window: Optional[int] = None,
        **options: Any,
    ) -> list[Hit]:
        """``HybridIndex.search``."""
        return (await self.search_batch([query], k, mode, filter, rrf_k, weights, window, **options))[0]

    async def search_batch(
        self,
        queries: Sequence[str],
        k: int = 10,
        mode: SearchMode | str = SearchMode.HYBRID,
        filter: Optional[Filter | dict] = None,
        rrf_k: float = fusion.RRF_K,
        weights: Optional[dict[str, float]] = None,
        window: Optional[int] = None,
        **options: Any,
    ) -> list[list[Hit]]:
        """``HybridIndex.search_batch``: one encoder call per encoder, then the queries concurrently."""
        return await self.run(self._requests(queries, k, mode, filter, rrf_k, weights, window, options))

    async def run(self, requests: Sequence[SearchRequest]) -> list[list[Hit]]:
        """``HybridIndex.run`` (with ``batch_queries``, runs at once coalesced as there); every request
        is validated before any store call."""
        if not requests:
            return []
        if not self.batch_queries:
            return await self._run_now(requests)
        loop = asyncio.get_running_loop()
        coalescer = self._searches.get(loop)
        if coalescer is None:
            coalescer = AsyncCoalescer(self._run_now, lambda hits, start, stop: hits[start:stop], max_running=2)
            self._searches[loop] = coalescer
        return await coalescer.call(requests)

    async def _run_now(self, requests: Sequence[SearchRequest]) -> list[list[Hit]]:
        if not requests:
            return []
        originals, requests = list(requests), [self._plan(req) for req in requests]
        outputs: dict[int, Embeddings] = await self._offload(self._encode_queries, requests)
        prepared = [self._prepare(req, outputs, row) for row, req in enumerate(requests)]
        calls = self._shared_calls(requests, prepared) if len(requests) > 1 else []
        first = store_batches.placed(calls, await asyncio.gather(*(call() for call in calls)), len(requests))
        fused = await asyncio.gather(
            *(
                self._search_one(req, n, v, f, first[row])
                for row, (req, (f, n, v)) in enumerate(zip(requests, prepared, strict=True))
            )
        )
        ids = content_ids(fused)
        ranked = with_content(fused, await self.connector.get(self.spec.name, ids) if ids else [])
        results = await asyncio.gather(*(self._finish(req, hits) for req, hits in zip(requests, ranked, strict=True)))
        return self._explain_all(originals, requests, list(results))

    async def _finish(self, req: SearchRequest, hits: list[Hit]) -> list[Hit]:
        if req.rerank_top_n:
            hits = await self._offload(self._rerank, req.query, hits, req.rerank_top_n)
        return hits[: req.k]

    async def _retrieve(
        self,
        name: str,
        vector: Any,
        k: int,
        filter_: Optional[Filter],
        ef: Optional[int] = None,
        content: bool = True,
        first: Optional[Sequence[Hit]] = None,
    ) -> Sequence[Hit]:
        """``HybridIndex._retrieve``: top ``k`` with ties at the cut-off resolved by id."""
        fetch = lambda n: self._retrieve_from_store(name, vector, n, filter_, ef, content)  # noqa: E731
        return await settled_top_async(fetch, k, first)

    async def _search_one(
        self,
        req: SearchRequest,
        names: list[str],
        vectors: dict[str, Any],
        filter_: Optional[Filter],
        first: Optional[dict[str, Sequence[Hit]]] = None,
    ) -> tuple[list[Hit], bool]:
        """``HybridIndex._ranked``: the hits in order, and whether their content is still to be read."""
        first = first or {}
        depth, window = self._depths(req)
        if len(names) == 1:
            (name,) = names
            found = await self._retrieve(name, vectors[name], depth, filter_, req.ef, True, first.get(name))
            return self._annotate_single(name, found), False
        if req.fusion.native:
            fused = await settled_top_async(
                lambda n: self._native(names, vectors, n, filter_, req.fusion, window), depth
            )
            return self._annotate_native(names, fused), False
        content = not self.late_content
        lists = await asyncio.gather(
            *(self._retrieve(n, vectors[n], window, filter_, req.ef, content, first.get(n)) for n in names)
        )
        return self._fuse(req, dict(zip(names, lists, strict=True)), depth), not content
