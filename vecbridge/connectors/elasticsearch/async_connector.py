"""``AsyncElasticsearchConnector``: the ``AsyncConnector`` protocol on ``elasticsearch.AsyncElasticsearch``.

Everything but the sending is ``ElasticsearchCommon``'s, shared with ``ElasticsearchConnector``:
request bodies, response conversion, error mapping (``StoreUnavailableError`` when the cluster is
unreachable), and the bulk writer's passes and accounting (``bulk.async_bulk_index``: the same
retries on tenacity's ``AsyncRetrying``, the same ``WriteError(failed, written)``).

Collection state (``read_state`` / ``write_state``, and the state part of ``drop_collection``) runs
the shared ``connectors/state_store.py`` logic on a sync ``ElasticsearchConnector`` (``self.sync``,
same config) in a worker thread: it is read once when an index is opened, never on the search path.
The async client (aiohttp) belongs to the event loop that first used it: use one connector from one loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Optional

import numpy as np
from elasticsearch import ApiError, AsyncElasticsearch, TransportError

from vecbridge.connectors.elasticsearch import mapping as mp
from vecbridge.connectors.elasticsearch.bulk import async_bulk_index, async_retry_request
from vecbridge.connectors.elasticsearch.config import ElasticsearchConfig, NativeHybrid, RefreshPolicy
from vecbridge.connectors.elasticsearch.connector import (
    PIT_KEEP_ALIVE,
    ElasticsearchCommon,
    ElasticsearchConnector,
    log,
)
from vecbridge.connectors.elasticsearch.state import STATE_INDEX
from vecbridge.schemas import (
    CollectionSpec,
    ConnectorError,
    Document,
    Filter,
    Hit,
    IndexBatch,
    SparseVector,
    StoreUnavailableError,
)


class AsyncElasticsearchConnector(ElasticsearchCommon):
    """Elasticsearch 8.x behind the ``vecbridge.connectors.base.AsyncConnector`` protocol."""

    def __init__(self, config: Optional[ElasticsearchConfig] = None, **options: Any):
        super().__init__(config, **options)
        self._client: Optional[AsyncElasticsearch] = None
        self._sync: Optional[ElasticsearchConnector] = None

    @property
    def client(self) -> AsyncElasticsearch:
        """The ``AsyncElasticsearch`` client, created on first access (it connects on first request)."""
        if self._client is None:
            self._client = AsyncElasticsearch(**self.config.client_kwargs())
        return self._client

    @property
    def sync(self) -> ElasticsearchConnector:
        """The sync connector that keeps collection state (same config), created on first use."""
        if self._sync is None:
            self._sync = ElasticsearchConnector(self.config)
        return self._sync

    async def close(self) -> None:
        client, self._client = self._client, None
        try:
            if client is not None:
                await client.close()
        finally:
            if self._sync is not None:
                await asyncio.to_thread(self._sync.close)

    # ---- collections ------------------------------------------------------------------------
    async def ensure_collection(self, spec: CollectionSpec) -> None:
        expected = mp.build_mapping(spec, self.config)
        with self._errors("ensure_collection", spec.name):
            if not await self.client.indices.exists(index=spec.name):
                try:
                    await self.client.indices.create(index=spec.name, mappings=expected)
                except ApiError as exc:
                    if exc.error != "resource_already_exists_exception":
                        raise
                else:
                    self._specs[spec.name] = spec
                    return
            actual = (await self.client.indices.get_mapping(index=spec.name))[spec.name]["mappings"]
        self._check_mapping(spec, expected, actual)
        self._specs[spec.name] = spec

    async def has_collection(self, name: str) -> bool:
        with self._errors("has_collection", name):
            return bool(await self.client.indices.exists(index=name))

    async def drop_collection(self, name: str) -> None:
        """Delete the index, then its state records (through ``self.sync``)."""
        with self._errors("drop_collection", name):
            await self.client.indices.delete(index=name, ignore_unavailable=True)
        self._specs.pop(name, None)
        if name != STATE_INDEX:
            await asyncio.to_thread(self.sync.drop_collection, name)  # the index is gone: drops the state

    async def read_state(self, collection: str) -> Optional[dict[str, Any]]:
        return await asyncio.to_thread(self.sync.read_state, collection)

    async def write_state(self, collection: str, state: dict[str, Any]) -> None:
        await asyncio.to_thread(self.sync.write_state, collection, state)

    async def append_log(self, collection: str, entry: dict[str, Any]) -> str:
        return await asyncio.to_thread(self.sync.append_log, collection, entry)

    async def log_versions(self, collection: str) -> list[str]:
        return await asyncio.to_thread(self.sync.log_versions, collection)

    async def read_log(self, collection: str, versions: Sequence[str]) -> dict[str, dict[str, Any]]:
        return await asyncio.to_thread(self.sync.read_log, collection, versions)

    async def remove_log(self, collection: str, versions: Sequence[str]) -> None:
        await asyncio.to_thread(self.sync.remove_log, collection, versions)

    async def spec(self, collection: str) -> CollectionSpec:
        """The collection's spec (cached; else read from the index's ``_meta``)."""
        if collection not in self._specs:
            with self._errors("read mapping", collection):
                mapping = (await self.client.indices.get_mapping(index=collection))[collection]["mappings"]
            return self._remember_mapping(collection, mapping)
        return self._specs[collection]

    # ---- writes -----------------------------------------------------------------------------
    async def upsert(self, collection: str, batch: IndexBatch) -> int:
        sources, failed = self._sources(await self.spec(collection), batch)
        written = 0
        if sources:
            with self._errors("upsert", collection):
                result = await async_bulk_index(self.client, collection, sources, **self._bulk_options())
            failed.update(result)
            written = result.written
            if written and self.config.refresh is RefreshPolicy.AFTER_WRITE:
                try:
                    with self._errors("refresh after upsert", collection):
                        once = self.client.options(max_retries=0)  # the retries are ours, with backoff
                        await async_retry_request(
                            f"refresh of {collection}",
                            lambda: once.indices.refresh(index=collection),
                            **self._retry_budget(),
                        )
                except StoreUnavailableError as exc:
                    raise self._refresh_failed(exc, written) from None
        return self._upserted(collection, batch, failed, written)

    async def delete(
        self, collection: str, ids: Optional[Sequence[str]] = None, filter: Optional[Filter] = None
    ) -> int:
        request = self._delete_request(collection, await self.spec(collection), ids, filter)
        if request is None:
            return 0
        with self._errors("delete", collection):
            resp = await self.client.delete_by_query(**request)
        return self._deleted(collection, resp)

    # ---- reads ------------------------------------------------------------------------------
    async def get(self, collection: str, ids: Sequence[str], with_vectors: bool = False) -> list[Document]:
        spec = await self.spec(collection)
        if not ids:
            return []
        with self._errors("get", collection):
            resp = await self.client.mget(**self._get_request(collection, spec, ids, with_vectors))
        return self._documents(resp, spec, with_vectors)

    async def iterate(
        self, collection: str, filter: Optional[Filter] = None, batch_size: int = 1000, with_vectors: bool = False
    ) -> AsyncIterator[list[Document]]:
        """``ElasticsearchConnector.iterate``: point in time + ``search_after`` on the ``id`` keyword."""
        spec = await self.spec(collection)
        body = self._iterate_body(spec, filter, batch_size, with_vectors)
        pit: Optional[str] = None
        try:
            with self._errors("open point in time", collection):
                pit = (await self.client.open_point_in_time(index=collection, keep_alive=PIT_KEEP_ALIVE))["id"]
        except ConnectorError as exc:
            self._without_pit(collection, exc)
        after: Optional[list[Any]] = None
        try:
            while True:
                with self._errors("iterate", collection):
                    resp = await self.client.search(**self._page_request(collection, body, pit, after))
                docs, after, pit = self._page(resp, spec, with_vectors, pit)
                if docs:
                    yield docs
                if len(docs) < body["size"]:
                    return
        finally:
            if pit is not None:
                try:
                    await self.client.close_point_in_time(id=pit)
                except (ApiError, TransportError) as exc:  # it expires by itself
                    log.debug("closing point in time failed: %s", exc)

    async def delete_all(self, collection: str) -> int:
        """``ElasticsearchConnector.delete_all``."""
        await self.spec(collection)
        with self._errors("delete_all", collection):
            resp = await self.client.delete_by_query(**self._delete_all_request(collection))
        return self._deleted(collection, resp)

    async def count(self, collection: str, filter: Optional[Filter] = None) -> int:
        query = self._count_query(await self.spec(collection), filter)
        with self._errors("count", collection):
            return int((await self.client.count(index=collection, query=query))["count"])

    # ---- searches ---------------------------------------------------------------------------
    async def search_dense(
        self,
        collection: str,
        vector: np.ndarray,
        k: int,
        filter: Optional[Filter] = None,
        ef: Optional[int] = None,
        *,
        content: bool = True,
    ) -> list[Hit]:
        request, finish = self._dense_search(collection, await self.spec(collection), vector, k, filter, ef, content)
        with self._errors("search_dense", collection):
            return finish(await self.client.search(**request))

    async def search_sparse(
        self,
        collection: str,
        vector: SparseVector,
        k: int,
        filter: Optional[Filter] = None,
        field: str = "sparse",
        *,
        content: bool = True,
    ) -> list[Hit]:
        request = self._sparse_search(collection, await self.spec(collection), vector, k, filter, field, content)
        if request is None:
            return []
        with self._errors("search_sparse", collection):
            return self._hits(await self.client.search(**request))

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
        lines, finish = self._dense_many(collection, await self.spec(collection), vectors, k, filter, ef, content)
        return await self._msearch("search_dense", collection, lines, finish)

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
        lines, finish = self._sparse_many(collection, await self.spec(collection), vectors, k, filter, field, content)
        return await self._msearch("search_sparse", collection, lines, finish)

    async def _msearch(
        self, action: str, collection: str, lines: list[dict[str, Any]], finish: Callable[[Any], list[Sequence[Hit]]]
    ) -> list[Sequence[Hit]]:
        if not lines:
            return finish({"responses": []})
        with self._errors(action, collection):
            resp = await self.client.msearch(searches=lines)
        try:
            return finish(resp)
        except ValueError as exc:
            raise ConnectorError(f"{action} on index {collection!r} failed: {exc}") from None

    async def search_text(
        self, collection: str, text: str, k: int, filter: Optional[Filter] = None, *, content: bool = True
    ) -> list[Hit]:
        request = self._text_search(collection, await self.spec(collection), text, k, filter, content)
        with self._errors("search_text", collection):
            return self._hits(await self.client.search(**request))

    async def licence_allows_rrf(self) -> bool:
        """Whether the licence API reports a licence with RRF; unreadable -> False (unknown)."""
        if self._licence_allows_rrf is None:
            try:
                self._licence_allows_rrf = self._licence_from((await self.client.license.get())["license"])
            except (ApiError, TransportError, KeyError, TypeError) as exc:
                log.info("licence unreadable (%s): treating RRF as unavailable", exc)
                self._licence_allows_rrf = False
        return self._licence_allows_rrf

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
        """Server-side ``rrf`` retriever (needs an enterprise/trial licence; see ``NativeHybrid``)."""
        if self.config.native_hybrid is NativeHybrid.AUTO:
            await self.licence_allows_rrf()
        self._check_native(rrf_k)
        request = self._native_search(collection, await self.spec(collection), dense, sparse, k, filter, rrf_k, window)
        with self._native_errors(collection):
            return self._hits(await self.client.search(**request))

    async def __aenter__(self) -> AsyncElasticsearchConnector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
