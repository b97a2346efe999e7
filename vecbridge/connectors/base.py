"""The one Connector protocol. A connector stores vectors it is given; it never sees a model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Optional, Protocol, runtime_checkable

import numpy as np

from vecbridge.schemas import CollectionSpec, Document, Filter, Hit, IndexBatch, SparseVector


@runtime_checkable
class Connector(Protocol):
    """A vector store holding collections described by ``CollectionSpec``.

    Contract shared by every implementation (checked by the conformance suite ``vecbridge.testing``):

    - ``ensure_collection`` creates the collection, or verifies an existing one matches the spec
      (dense dim, metric, sparse fields, filterable keys and types) and raises
      ``CollectionMismatchError`` naming the differing field otherwise. Other calls on a collection
      that does not exist raise ``CollectionNotFoundError``.
    - ``upsert`` is idempotent by id: writing the same id again replaces the document. Writes are
      visible to the next read/search call. Partial failures raise ``WriteError`` listing failed ids.
    - Filters must be validated trees (``vecbridge.schemas.validate_filter``): declared keys use the
      typed fields, any other key or dotted path (``PathCondition``) the stored JSON metadata; both
      follow ``vecbridge.schemas.matches`` (a missing key reads as null; docs/filters.md).
    - Searches return at most ``k`` hits, best first, ``Hit.score`` the backend's raw similarity
      (IP / cosine: higher is better; L2: smaller distance ranks first but is reported as given).
      Ties in score may come in any order; fusion breaks ties by id.
    - ``read_state`` / ``write_state`` keep a JSON-able dict per collection in the store itself,
      beside the data (the facade's manifest and BM25 statistics; megabytes are fine), so every
      process holding the URI sees the same state. A reader sees the last complete write, never a
      mix of two. ``drop_collection`` drops the state too. (Shared logic: ``connectors/state_store.py``.)
    - ``get(..., with_vectors=True)`` and ``iterate(..., with_vectors=True)`` return
      ``StoredDocument``s carrying the stored dense and sparse vectors.
    - ``iterate`` yields every document matching the filter exactly once, in batches of at most
      ``batch_size``; documents written while it runs may or may not be seen, and a document that
      existed when it started is never yielded twice, even if it is rewritten meanwhile.
    - ``delete_all`` deletes every document; the collection, its schema and its state stay.
    - Driver exceptions are wrapped in ``ConnectorError`` subclasses (``raise ... from exc``).
    - Optional, for BM25 statistics that follow the corpus (``vecbridge/corpus_stats.py``): an
      append-only log beside the state, ``append_log(collection, entry) -> version``,
      ``log_versions(collection)`` (oldest first), ``read_log(collection, versions)`` (those that
      exist, by version) and ``remove_log(collection, versions)``; ``drop_collection`` drops it.
      Milvus and Elasticsearch keep it with their state records (``connectors/state_store.py``).
    - Optional, for hybrid search: a connector whose class sets ``SEARCH_WITHOUT_CONTENT = True``
      accepts the keyword ``content=False`` on ``search_dense`` / ``search_sparse`` /
      ``search_text`` and then returns hits with ids and scores only (``text`` "" and ``metadata``
      {}), same ids, order and scores as with ``content=True`` (a list of hits, or a ``ScoredIds``
      that reads as one); the facade fuses such lists and
      reads the text and metadata of the final hits with one ``get`` (``supports_search_without_content``).
    - Optional, for batches of searches: ``search_dense_many(collection, vectors, k, filter, ef, *,
      content)`` and ``search_sparse_many(collection, vectors, k, filter, field, *, content)`` return
      each vector's hits (as its own ``search_dense`` / ``search_sparse`` would) from one store call;
      the facade uses them for requests that share a retriever and its parameters
      (``vecbridge/store_batches.py``). Milvus has both (one search with ``nq`` vectors), Elasticsearch
      too (one ``msearch``).
    """

    def ensure_collection(self, spec: CollectionSpec) -> None: ...

    def has_collection(self, name: str) -> bool: ...

    def drop_collection(self, name: str) -> None:
        """Drop the collection and its state (no error when it does not exist)."""
        ...

    def read_state(self, collection: str) -> Optional[dict[str, Any]]:
        """The state last written for ``collection`` by ``write_state``, or ``None``."""
        ...

    def write_state(self, collection: str, state: dict[str, Any]) -> None:
        """Replace the state of ``collection`` (the collection itself need not exist yet)."""
        ...

    def upsert(self, collection: str, batch: IndexBatch) -> int:
        """Write (insert or replace) the batch; returns the number of documents written."""
        ...

    def delete(self, collection: str, ids: Optional[Sequence[str]] = None, filter: Optional[Filter] = None) -> int:
        """Delete by ids and/or filter (both given: documents matching either). Returns the number deleted."""
        ...

    def get(self, collection: str, ids: Sequence[str], with_vectors: bool = False) -> list[Document]:
        """Documents for the ids that exist, in the order of ``ids``; missing ids are skipped.
        ``with_vectors``: ``StoredDocument``s with the stored vectors."""
        ...

    def iterate(
        self, collection: str, filter: Optional[Filter] = None, batch_size: int = 1000, with_vectors: bool = False
    ) -> Iterator[list[Document]]:
        """Every document matching ``filter``, exactly once, in batches of at most ``batch_size``
        (Milvus: the query iterator; Elasticsearch: point in time + ``search_after``)."""
        ...

    def delete_all(self, collection: str) -> int:
        """Delete every document of the collection (which stays, with its state); returns how many."""
        ...

    def count(self, collection: str, filter: Optional[Filter] = None) -> int: ...

    def search_dense(
        self,
        collection: str,
        vector: np.ndarray,
        k: int,
        filter: Optional[Filter] = None,
        ef: Optional[int] = None,
        *,
        content: bool = True,
    ) -> Sequence[Hit]:
        """``ef``: HNSW search breadth (None: the store's default; exact indexes ignore it)."""
        ...

    def search_sparse(
        self,
        collection: str,
        vector: SparseVector,
        k: int,
        filter: Optional[Filter] = None,
        field: str = "sparse",
        *,
        content: bool = True,
    ) -> Sequence[Hit]:
        """Inner-product search on the named sparse field."""
        ...

    def search_text(
        self, collection: str, text: str, k: int, filter: Optional[Filter] = None, *, content: bool = True
    ) -> Sequence[Hit]:
        """The backend's own full-text (BM25) search on the ``text`` field. Raises
        ``UnsupportedOperationError`` where the collection has none (Milvus: a collection created
        without ``CollectionSpec.text_analyzer``)."""
        ...

    def search_hybrid_native(
        self,
        collection: str,
        dense: Optional[np.ndarray],
        sparse: dict[str, SparseVector],
        k: int,
        filter: Optional[Filter] = None,
        rrf_k: float = 60.0,
        window: int = 50,
    ) -> list[Hit]:
        """Server-side RRF over the given retrievers (dense + named sparse fields), each taking
        ``window`` candidates. Raises ``UnsupportedOperationError`` where the backend cannot."""
        ...

    def close(self) -> None:
        """Release clients, connections and (embedded engines) file locks."""
        ...


@runtime_checkable
class AsyncConnector(Protocol):
    """``Connector`` for asyncio: the same methods, arguments, results, errors and contract (checked
    by the same ``vecbridge.testing`` suite through ``vecbridge.connectors.adapters.BlockingConnector``), each
    an ``async def`` that never blocks the event loop for a store round trip.

    Implementations: ``vecbridge.connectors.milvus.AsyncMilvusConnector`` (``pymilvus.AsyncMilvusClient``),
    ``vecbridge.connectors.elasticsearch.AsyncElasticsearchConnector`` (``elasticsearch.AsyncElasticsearch``)
    and ``vecbridge.connectors.adapters.ThreadedConnector`` (any sync ``Connector``, each call in a worker thread).
    """

    async def ensure_collection(self, spec: CollectionSpec) -> None: ...

    async def has_collection(self, name: str) -> bool: ...

    async def drop_collection(self, name: str) -> None: ...

    async def read_state(self, collection: str) -> Optional[dict[str, Any]]: ...

    async def write_state(self, collection: str, state: dict[str, Any]) -> None: ...

    async def upsert(self, collection: str, batch: IndexBatch) -> int: ...

    async def delete(
        self, collection: str, ids: Optional[Sequence[str]] = None, filter: Optional[Filter] = None
    ) -> int: ...

    async def get(self, collection: str, ids: Sequence[str], with_vectors: bool = False) -> list[Document]: ...

    def iterate(
        self, collection: str, filter: Optional[Filter] = None, batch_size: int = 1000, with_vectors: bool = False
    ) -> AsyncIterator[list[Document]]:
        """``Connector.iterate`` as an async iterator of batches (an ``async def`` generator)."""
        ...

    async def delete_all(self, collection: str) -> int: ...

    async def count(self, collection: str, filter: Optional[Filter] = None) -> int: ...

    async def search_dense(
        self,
        collection: str,
        vector: np.ndarray,
        k: int,
        filter: Optional[Filter] = None,
        ef: Optional[int] = None,
        *,
        content: bool = True,
    ) -> Sequence[Hit]: ...

    async def search_sparse(
        self,
        collection: str,
        vector: SparseVector,
        k: int,
        filter: Optional[Filter] = None,
        field: str = "sparse",
        *,
        content: bool = True,
    ) -> Sequence[Hit]: ...

    async def search_text(
        self, collection: str, text: str, k: int, filter: Optional[Filter] = None, *, content: bool = True
    ) -> Sequence[Hit]: ...

    async def search_hybrid_native(
        self,
        collection: str,
        dense: Optional[np.ndarray],
        sparse: dict[str, SparseVector],
        k: int,
        filter: Optional[Filter] = None,
        rrf_k: float = 60.0,
        window: int = 50,
    ) -> list[Hit]: ...

    async def close(self) -> None: ...


def supports_search_without_content(connector: Any) -> bool:
    """Whether ``connector`` (or the connector an adapter wraps) takes ``content=False`` on its
    searches (its class sets ``SEARCH_WITHOUT_CONTENT = True``; see ``Connector``)."""
    return bool(getattr(connector, "SEARCH_WITHOUT_CONTENT", False))
