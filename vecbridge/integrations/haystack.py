"""Haystack 3.x adapter (``pip install vecbridge[haystack]``): a ``DocumentStore`` over a vecbridge
``HybridIndex`` (and, for its ``*_async`` methods, an ``AsyncHybridIndex``) and two retriever
components (``run`` and ``run_async``).

- ``VecbridgeDocumentStore``: Haystack documents (content, meta, embedding, sparse_embedding) stored
  in a vecbridge collection on Milvus (Lite file or server) or Elasticsearch. ``meta`` is stored and
  returned unchanged; the keys named in ``filterable`` can be filtered on with Haystack's filter
  syntax (``{"field": "meta.year", "operator": ">=", "value": 2020}``, ``AND``/``OR``/``NOT``),
  translated to vecbridge's filter tree by ``to_vecbridge_filter`` (one semantics everywhere: the
  one of ``vecbridge.schemas.filters.matches``). A document without ``embedding`` is stored without a dense
  vector (or, with ``embed_missing=True``, with the vectors of the store's own encoders).
- ``VecbridgeHybridRetriever``: query text -> documents, through vecbridge's hybrid search
  (the store's encoders and/or the backend's own BM25, fused by vecbridge's pinned RRF).
- ``VecbridgeEmbeddingRetriever``: query embedding -> documents (dense search by vector).

Errors: Haystack's own types where its protocol names them (``FilterError``,
``DuplicateDocumentError``, ``ValueError``), each also a ``vecbridge.schemas.errors.VecbridgeError``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Optional

from haystack import component, default_from_dict, default_to_dict
from haystack.dataclasses import Document as HaystackDocument, SparseEmbedding
from haystack.document_stores.errors import DuplicateDocumentError as HaystackDuplicateError
from haystack.document_stores.types import DuplicatePolicy
from haystack.errors import FilterError as HaystackFilterError
from pydantic import ValidationError as PydanticValidationError

from vecbridge.schemas import CollectionSpec, Document, Metric, ScalarType, SparseVector, VectorDocument
from vecbridge.schemas.errors import (
    ConfigurationError,
    FilterError as VecbridgeFilterError,
    InvalidInputError,
    VecbridgeError,
    WriteError,
    describe_validation_error,
    short_repr,
)

__all__ = [
    "DocumentError",
    "DuplicateDocumentError",
    "FilterError",
    "VecbridgeDocumentStore",
    "VecbridgeEmbeddingRetriever",
    "VecbridgeHybridRetriever",
    "to_vecbridge_filter",
]

BACKENDS = ("milvus", "elasticsearch")
MODES = ("hybrid", "dense", "sparse", "text")
SPARSE_FIELD = "sparse"  # the collection's one sparse field (Haystack documents have one sparse_embedding)
COMPARISONS = ("==", "!=", ">", ">=", "<", "<=", "in", "not in")
LOGICAL = {"AND": "all", "OR": "any"}
META_PREFIX = "meta."


def _allow_pipeline_loading() -> None:
    """Put this module (only it) on Haystack's deserialization allowlist, so that ``Pipeline.load``
    / ``loads`` of a saved pipeline with these components needs no ``allowed_modules`` once this
    module is imported (as ``@component`` registers the classes: at import)."""
    try:
        from haystack.core.serialization import allow_deserialization_module
    except ImportError:  # a Haystack without an allowlist
        return
    allow_deserialization_module(__name__)


_allow_pipeline_loading()


class FilterError(HaystackFilterError, VecbridgeFilterError):
    """A Haystack filter that cannot be translated or does not fit the collection (both Haystack's
    ``haystack.errors.FilterError`` and vecbridge's ``FilterError``)."""


class DuplicateDocumentError(HaystackDuplicateError, VecbridgeError):
    """``DuplicatePolicy.FAIL`` (or ``NONE``) met ids that are already stored or repeated in the call."""


class DocumentError(ConfigurationError, ValueError):
    """A document (or the argument of ``write_documents``) that vecbridge cannot store."""


# ---- filters: Haystack syntax -> vecbridge tree (pure) ----------------------------------------
def to_vecbridge_filter(filters: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """Haystack's filter dict as vecbridge's JSON filter tree (``None`` for no filter).

    ``{"field": "meta.k", "operator": op, "value": v}`` -> ``{"key": "k", "op": op, "value": v}``
    (values passed through unchanged, so vecbridge's validation judges ``None``, lists and tuples);
    ``AND``/``OR`` -> ``all``/``any``; ``NOT`` -> ``not`` of the ``AND`` of its conditions (Haystack's
    meaning). Only ``meta.*`` fields can be filtered. Malformed dicts raise ``FilterError`` naming
    the node's path.
    """
    if filters is None or filters == {}:
        return None
    return _translate(filters, "filters")


def _translate(node: Any, path: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise FilterError(f"{path} must be a dict, got {short_repr(node)}")
    if "field" in node or ("value" in node and "conditions" not in node):
        return _comparison(node, path)
    if "operator" not in node:
        raise FilterError(f"{path} has no 'operator' key: {short_repr(node)}")
    if "conditions" not in node:
        raise FilterError(f"{path} has no 'conditions' key: {short_repr(node)}")
    operator, conditions = node["operator"], node["conditions"]
    if operator not in (*LOGICAL, "NOT"):
        raise FilterError(f"{path}.operator: unknown logical operator {short_repr(operator)}; valid: AND, OR, NOT")
    if not isinstance(conditions, list) or not conditions:
        raise FilterError(f"{path}.conditions must be a non-empty list, got {short_repr(conditions)}")
    children = [_translate(c, f"{path}.conditions[{i}]") for i, c in enumerate(conditions)]
    if operator == "NOT":
        return {"not": children[0] if len(children) == 1 else {"all": children}}
    return {LOGICAL[operator]: children}


def _comparison(node: dict[str, Any], path: str) -> dict[str, Any]:
    for key in ("field", "operator", "value"):
        if key not in node:
            raise FilterError(f"{path} has no {key!r} key: {short_repr(node)}")
    field, operator = node["field"], node["operator"]
    if operator not in COMPARISONS:
        raise FilterError(f"{path}.operator: unknown comparison {short_repr(operator)}; valid: {list(COMPARISONS)}")
    if not isinstance(field, str) or not field.startswith(META_PREFIX) or field == META_PREFIX:
        raise FilterError(
            f"{path}.field={short_repr(field)}: vecbridge filters metadata only; use 'meta.<key>' "
            "with a key declared filterable"
        )
    return {"key": field[len(META_PREFIX) :], "op": operator, "value": node["value"]}


# ---- documents both ways ------------------------------------------------------------------------
def to_vecbridge_document(doc: HaystackDocument) -> Document:
    """The vecbridge ``Document`` of a Haystack document (id, content -> text, meta -> metadata)."""
    if doc.content is None:
        raise DocumentError(f"document {doc.id!r}: content is None; vecbridge stores text documents")
    if doc.blob is not None:
        raise DocumentError(f"document {doc.id!r}: blob is not stored by vecbridge; put the text in content")
    try:
        return Document(id=doc.id, text=doc.content, metadata=dict(doc.meta))
    except PydanticValidationError as exc:
        raise DocumentError(describe_validation_error(exc, f"document {doc.id!r}")) from None


def to_haystack_document(doc: Any, score: Optional[float] = None) -> HaystackDocument:
    """A Haystack document from a vecbridge ``Document``/``StoredDocument``/``Hit`` (vectors when held)."""
    dense = getattr(doc, "dense", None)
    vector = (getattr(doc, "sparse", None) or {}).get(SPARSE_FIELD)
    sparse_embedding = None
    if vector is not None and len(vector):
        sparse_embedding = SparseEmbedding(indices=vector.indices.tolist(), values=vector.values.tolist())
    return HaystackDocument(
        id=doc.id,
        content=doc.text,
        meta=dict(doc.metadata),
        score=score,
        embedding=None if dense is None else [float(x) for x in dense],
        sparse_embedding=sparse_embedding,
    )


# ---- the store ----------------------------------------------------------------------------------
class VecbridgeDocumentStore:
    """A Haystack ``DocumentStore`` on one vecbridge collection.

    :param backend: ``"milvus"`` (``uri``: a Milvus Lite file or ``http://host:port``) or
        ``"elasticsearch"`` (``es_url``).
    :param collection: collection / index name (created on first use, verified when it exists).
    :param embedding_dim: dimension of the documents' ``embedding`` (default: the dense model's).
    :param dense_model: a vecbridge encoder name (``load_encoder``) for hybrid search by text and,
        with ``embed_missing``, for documents written without an embedding.
    :param sparse_model: a learned-sparse encoder name (e.g. ``splade-tiny``); ``sparse_embeddings``
        stores Haystack ``sparse_embedding`` without one.
    :param text_search: add the backend's own BM25 on ``content`` as a hybrid retriever.
    :param filterable: ``{"year": "int", "date": "datetime", ...}`` the metadata keys filters may use.
    :param embed_missing: encode documents that come without vectors with the store's encoders
        (otherwise they are stored without a dense/sparse vector and never returned by vector search).

    Every protocol method has an ``*_async`` twin (same parameters, results and errors) that runs on
    ``await async_index()``, an ``AsyncHybridIndex`` over the backend's async connector.
    """

    def __init__(
        self,
        *,
        backend: str = "milvus",
        uri: str = "./vecbridge_haystack.db",
        es_url: Optional[str] = None,
        collection: str = "haystack",
        embedding_dim: Optional[int] = None,
        dense_model: Optional[str] = None,
        sparse_model: Optional[str] = None,
        sparse_embeddings: bool = False,
        text_search: bool = True,
        text_analyzer: str = "standard",
        filterable: Optional[dict[str, str]] = None,
        metric: str = "COSINE",
        embed_missing: bool = False,
    ) -> None:
        if backend not in BACKENDS:
            raise ConfigurationError(f"backend={backend!r}; choose one of {list(BACKENDS)}")
        if backend == "elasticsearch" and not es_url:
            raise ConfigurationError("backend='elasticsearch' needs es_url")
        self.backend, self.uri, self.es_url, self.collection = backend, uri, es_url, collection
        self.embedding_dim, self.dense_model, self.sparse_model = embedding_dim, dense_model, sparse_model
        self.sparse_embeddings, self.text_search, self.text_analyzer = sparse_embeddings, text_search, text_analyzer
        self.filterable = dict(filterable or {})
        self.metric, self.embed_missing = metric, embed_missing
        self._index: Any = None
        self._models: Optional[tuple[Any, Any]] = None  # (dense, sparse) encoders, loaded once for both indexes
        self._async: Optional[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = None  # (its loop, the opening)

    # -- lifecycle --
    @property
    def index(self) -> Any:
        """The ``HybridIndex`` behind the store (connected and created on first use)."""
        if self._index is None:
            self._index = self._open()
        return self._index

    def _open(self) -> Any:
        from vecbridge.index import HybridIndex

        spec, retrievers = self._layout()
        connector = self._connector()
        try:
            return HybridIndex(connector, spec, retrievers)
        except BaseException:
            connector.close()
            raise

    def _layout(self) -> tuple[CollectionSpec, list[Any]]:
        """The collection spec and the retrievers of this store (its models loaded once)."""
        from vecbridge.index import Retriever, RetrieverKind

        if self._models is None:
            from vecbridge.encoders.factory import load_encoder

            self._models = (
                load_encoder(self.dense_model) if self.dense_model else None,
                load_encoder(self.sparse_model) if self.sparse_model else None,
            )
        dense, sparse = self._models
        dim = self.embedding_dim if self.embedding_dim is not None else getattr(dense, "dense_dim", None)
        if dense is not None and dense.dense_dim not in (None, dim):
            raise ConfigurationError(
                f"embedding_dim={dim} but dense_model {self.dense_model!r} has dim {dense.dense_dim}"
            )
        with_sparse = sparse is not None or self.sparse_embeddings
        try:
            spec = CollectionSpec(
                name=self.collection,
                dense_dim=dim,
                metric=Metric(self.metric),
                sparse_fields=("sparse",) if with_sparse else (),
                filterable={k: ScalarType(v) for k, v in self.filterable.items()},
                text_analyzer=self.text_analyzer if self.text_search else None,
            )
        except (PydanticValidationError, ValueError) as exc:
            detail = (
                describe_validation_error(exc, "invalid store")
                if isinstance(exc, PydanticValidationError)
                else str(exc)
            )
            raise ConfigurationError(detail) from None
        # Without a model, the dense / sparse retriever is vector-only: the documents bring the vectors
        # (embedding, sparse_embedding) and VecbridgeEmbeddingRetriever searches them by vector.
        retrievers = [Retriever("text", None, RetrieverKind.TEXT, "text")] if self.text_search else []
        if dim is not None:
            retrievers.append(Retriever("dense", dense, RetrieverKind.DENSE, "dense"))
        if with_sparse:
            retrievers.append(Retriever("sparse", sparse, RetrieverKind.SPARSE, "sparse"))
        return spec, retrievers

    def text_retrievers(self) -> list[str]:
        """The retrievers a query text can run: the backend's BM25 and those with a vecbridge model."""
        return _text_retrievers(self.index)

    def _connector(self) -> Any:
        if self.backend == "milvus":
            from vecbridge.connectors.milvus import MilvusConnector

            return MilvusConnector(uri=self.uri)
        from vecbridge.connectors.elasticsearch import ElasticsearchConnector

        return ElasticsearchConnector(url=self.es_url)

    def close(self) -> None:
        """Close the index's pool and the connector (a later call reconnects). The async index is
        closed by ``await close_async()``; one whose event loop has ended is dropped here."""
        if self._async is not None and self._async[0].is_closed():
            self._async = None
        index, self._index = self._index, None
        if index is not None:
            index.close()
            index.connector.close()

    # -- async lifecycle --
    async def async_index(self) -> Any:
        """The ``AsyncHybridIndex`` behind the ``*_async`` methods, over the async connector of the
        same backend: opened on first use (concurrent first calls share one opening) and bound to
        that event loop. When that loop has ended (``asyncio.run`` returned), the next loop opens a
        new one; while it runs, another loop is refused (``ConfigurationError``)."""
        loop = asyncio.get_running_loop()
        held = self._async
        if held is not None and held[0] is not loop:
            if held[0].is_running():
                raise ConfigurationError(
                    f"store {self.collection!r} is in use on another event loop; use it from that loop, or "
                    "await close_async() there first"
                )
            held = None  # its loop has ended, and with it the async connections
        if held is None:
            held = self._async = (loop, loop.create_task(self._open_async()))
        try:
            return await asyncio.shield(held[1])
        except BaseException:
            if self._async is held and held[1].done():
                self._async = None  # a failed opening is retried by the next call
            raise

    async def _open_async(self) -> Any:
        from vecbridge.async_index import AsyncHybridIndex

        if self._models is not None or not (self.dense_model or self.sparse_model):
            spec, retrievers = self._layout()
        else:  # loading a model blocks: once per store, off the event loop
            spec, retrievers = await asyncio.to_thread(self._layout)
        connector = self._async_connector()
        try:
            return await AsyncHybridIndex.open(connector, spec, retrievers)
        except BaseException:
            await connector.close()
            raise

    def _async_connector(self) -> Any:
        if self.backend == "milvus":
            from vecbridge.connectors.milvus import AsyncMilvusConnector

            return AsyncMilvusConnector(uri=self.uri)
        from vecbridge.connectors.elasticsearch import AsyncElasticsearchConnector

        return AsyncElasticsearchConnector(url=self.es_url)

    async def close_async(self) -> None:
        """Close the async index's connector, then the sync side (``close()``); a later call reopens."""
        held, self._async = self._async, None
        if held is not None and held[0] is not asyncio.get_running_loop():
            if held[0].is_running():
                self._async = held
                raise ConfigurationError(f"store {self.collection!r} is in use on another event loop; close it there")
            held = None  # its loop has ended: nothing left to close
        try:
            if held is not None:
                try:
                    index = await held[1]
                except Exception:  # it never opened: nothing to close
                    index = None
                if index is not None:
                    await index.connector.close()
        finally:
            self.close()

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            backend=self.backend,
            uri=self.uri,
            es_url=self.es_url,
            collection=self.collection,
            embedding_dim=self.embedding_dim,
            dense_model=self.dense_model,
            sparse_model=self.sparse_model,
            sparse_embeddings=self.sparse_embeddings,
            text_search=self.text_search,
            text_analyzer=self.text_analyzer,
            filterable=self.filterable,
            metric=self.metric,
            embed_missing=self.embed_missing,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VecbridgeDocumentStore:
        return default_from_dict(cls, data)

    # -- protocol --
    def count_documents(self) -> int:
        return self.index.count()

    def count_documents_by_filter(self, filters: dict[str, Any]) -> int:
        """How many documents match Haystack ``filters``."""
        return self.index.count(filter=self._filter(filters))

    def filter_documents(self, filters: Optional[dict[str, Any]] = None) -> list[HaystackDocument]:
        """Every document matching ``filters`` (all without), with its vectors."""
        flt = self._filter(filters)
        return [to_haystack_document(d) for d in self.index.iterate(filter=flt, with_vectors=True)]

    def write_documents(self, documents: list[HaystackDocument], policy: DuplicatePolicy = DuplicatePolicy.NONE) -> int:
        """Write documents; ``NONE`` and ``FAIL`` raise ``DuplicateDocumentError`` if an id exists (or
        repeats in ``documents``), ``SKIP`` leaves existing ids alone, ``OVERWRITE`` replaces them.
        Returns the number written."""
        _check_documents(documents)
        if not documents:
            return 0
        existing: set[str] = set()
        if policy is not DuplicatePolicy.OVERWRITE:
            existing = {d.id for d in self.index.get(list(dict.fromkeys(d.id for d in documents)))}
        documents = _apply_policy(documents, policy, existing)
        if not documents:
            return 0
        self._upsert(documents)
        return len(documents)

    def delete_documents(self, document_ids: list[str]) -> None:
        """Delete the documents with these ids (unknown ids are ignored)."""
        if document_ids:
            self.index.delete(ids=list(document_ids))

    def delete_all_documents(self, recreate_index: bool = False) -> None:
        """Delete every document; the collection (schema, filterable keys) stays. ``recreate_index``
        drops and recreates the collection instead (also its stored state)."""
        if not recreate_index:
            self.index.delete_all()
            return
        index = self.index
        index.connector.drop_collection(index.spec.name)
        index.connector.ensure_collection(index.spec)

    def delete_by_filter(self, filters: dict[str, Any]) -> int:
        """Delete the documents matching ``filters``; returns how many."""
        flt = self._filter(filters)
        if flt is None:
            raise FilterError("delete_by_filter needs a filter; use delete_all_documents() to delete everything")
        return self.index.delete(filter=flt)

    def update_by_filter(self, filters: dict[str, Any], meta: dict[str, Any]) -> int:
        """Merge ``meta`` into the metadata of every document matching ``filters`` (vectors kept);
        returns how many were updated."""
        flt = self._filter(filters)
        matched = list(self.index.iterate(filter=flt, with_vectors=True))
        updated = [to_haystack_document(d.model_copy(update={"metadata": {**d.metadata, **meta}})) for d in matched]
        if updated:
            self._upsert(updated, embed=False)
        return len(updated)

    # -- metadata summaries: client-side scans over the matching documents' metadata --
    def count_unique_metadata_by_filter(self, filters: dict[str, Any], metadata_fields: list[str]) -> dict[str, int]:
        """``{field: number of distinct non-null values}`` over the documents matching ``filters``."""
        return _unique_counts(self._metadata(filters), metadata_fields)

    def get_metadata_fields_info(self) -> dict[str, dict[str, str]]:
        """``{key: {"type": keyword|int|float|boolean}}`` of the metadata keys stored (inferred from values)."""
        return _fields_info(self._metadata(None))

    def get_metadata_field_min_max(self, metadata_field: str) -> dict[str, Any]:
        """``{"min": ..., "max": ...}`` of a metadata key's scalar values (``None`` when it has none)."""
        return _min_max(self._metadata(None), metadata_field)

    def get_metadata_field_unique_values(
        self,
        metadata_field: str,
        search_term: Optional[str] = None,
        from_: int = 0,
        size: int = 10,
        filters: Optional[dict[str, Any]] = None,
    ) -> tuple[list[Any], int]:
        """A page of a key's distinct values (sorted by text, then type; ``search_term``: case-insensitive
        substring) over the documents matching ``filters``, and how many there are in all."""
        return _unique_values_page(self._metadata(filters), metadata_field, search_term, from_, size)

    def _metadata(self, filters: Optional[dict[str, Any]]) -> list[dict[str, Any]]:
        return [d.metadata for d in self.index.iterate(filter=self._filter(filters))]

    # -- the async protocol: the same methods on the AsyncHybridIndex (see async_index()) --
    async def count_documents_async(self) -> int:
        """``count_documents``."""
        return await (await self.async_index()).count()

    async def count_documents_by_filter_async(self, filters: dict[str, Any]) -> int:
        """``count_documents_by_filter``."""
        index = await self.async_index()
        return await index.count(filter=_validated_filter(filters, index.spec))

    async def filter_documents_async(self, filters: Optional[dict[str, Any]] = None) -> list[HaystackDocument]:
        """``filter_documents``."""
        index = await self.async_index()
        flt = _validated_filter(filters, index.spec)
        return [to_haystack_document(d) async for d in index.iterate(filter=flt, with_vectors=True)]

    async def write_documents_async(
        self, documents: list[HaystackDocument], policy: DuplicatePolicy = DuplicatePolicy.NONE
    ) -> int:
        """``write_documents``: the same policies, errors and count."""
        _check_documents(documents)
        if not documents:
            return 0
        index = await self.async_index()
        existing: set[str] = set()
        if policy is not DuplicatePolicy.OVERWRITE:
            existing = {d.id for d in await index.get(list(dict.fromkeys(d.id for d in documents)))}
        documents = _apply_policy(documents, policy, existing)
        if documents:
            await self._upsert_async(index, documents)
        return len(documents)

    async def delete_documents_async(self, document_ids: list[str]) -> None:
        """``delete_documents``."""
        ids = _document_ids(document_ids)
        if ids:
            await (await self.async_index()).delete(ids=ids)

    async def delete_all_documents_async(self, recreate_index: bool = False) -> None:
        """``delete_all_documents``."""
        index = await self.async_index()
        if not recreate_index:
            await index.delete_all()
            return
        await index.connector.drop_collection(index.spec.name)
        await index.connector.ensure_collection(index.spec)

    async def delete_by_filter_async(self, filters: dict[str, Any]) -> int:
        """``delete_by_filter``."""
        index = await self.async_index()
        flt = _validated_filter(filters, index.spec)
        if flt is None:
            raise FilterError("delete_by_filter needs a filter; use delete_all_documents() to delete everything")
        return await index.delete(filter=flt)

    async def update_by_filter_async(self, filters: dict[str, Any], meta: dict[str, Any]) -> int:
        """``update_by_filter``: new documents with the merged metadata (none is mutated)."""
        if not isinstance(meta, dict):
            raise DocumentError(f"update_by_filter: meta must be a dict, got {short_repr(meta)}")
        index = await self.async_index()
        flt = _validated_filter(filters, index.spec)
        matched = [d async for d in index.iterate(filter=flt, with_vectors=True)]
        updated = [to_haystack_document(d.model_copy(update={"metadata": {**d.metadata, **meta}})) for d in matched]
        if updated:
            await self._upsert_async(index, updated, embed=False)
        return len(updated)

    async def count_unique_metadata_by_filter_async(
        self, filters: dict[str, Any], metadata_fields: list[str]
    ) -> dict[str, int]:
        """``count_unique_metadata_by_filter``."""
        return _unique_counts(await self._metadata_async(filters), metadata_fields)

    async def get_metadata_fields_info_async(self) -> dict[str, dict[str, str]]:
        """``get_metadata_fields_info``."""
        return _fields_info(await self._metadata_async(None))

    async def get_metadata_field_min_max_async(self, metadata_field: str) -> dict[str, Any]:
        """``get_metadata_field_min_max``."""
        return _min_max(await self._metadata_async(None), metadata_field)

    async def get_metadata_field_unique_values_async(
        self,
        metadata_field: str,
        search_term: Optional[str] = None,
        from_: int = 0,
        size: int = 10,
        filters: Optional[dict[str, Any]] = None,
    ) -> tuple[list[Any], int]:
        """``get_metadata_field_unique_values``."""
        return _unique_values_page(await self._metadata_async(filters), metadata_field, search_term, from_, size)

    async def _metadata_async(self, filters: Optional[dict[str, Any]]) -> list[dict[str, Any]]:
        index = await self.async_index()
        return [d.metadata async for d in index.iterate(filter=_validated_filter(filters, index.spec))]

    async def _upsert_async(
        self, index: Any, documents: Sequence[HaystackDocument], embed: Optional[bool] = None
    ) -> None:
        """``_upsert`` on the async index, without a worker thread per call: the batch is built here
        (the store's models, when they must encode, run in the index's executor) and awaited on the
        async connector, which writes every valid row and raises ``WriteError`` naming the rest."""
        converted = [_vector_document(d, index) for d in documents]
        encode = self.embed_missing if embed is None else embed
        if encode and any(r.encoder is not None for r in index.retrievers.values()):
            batch = await index._offload(index.encode_documents, converted, True)
        else:
            batch = index.encode_documents(converted, encode_missing=False)
        await index.connector.upsert(index.spec.name, batch)

    # -- internals --
    def _filter(self, filters: Optional[dict[str, Any]]) -> Any:
        """The validated vecbridge filter of Haystack ``filters`` (``None``: no filter)."""
        if filters is None or filters == {}:
            return None
        return _validated_filter(filters, self.index.spec)

    def _upsert(self, documents: Sequence[HaystackDocument], embed: Optional[bool] = None) -> None:
        """Write ``documents`` through ``HybridIndex.upsert``: the vectors they carry as given, the
        missing ones encoded by the store's models when ``embed`` (else stored without). Every
        document is checked before anything is written."""
        index = self.index
        converted = [_vector_document(d, index) for d in documents]
        report = index.upsert(converted, encode_missing=self.embed_missing if embed is None else embed)
        if report.failed:
            first = next(iter(report.failed.items()))
            raise WriteError(
                f"{len(report.failed)} of {len(converted)} documents not written; first: {first}",
                dict(report.failed),
                report.written,
            )


def _vector_document(doc: HaystackDocument, index: Any) -> VectorDocument:
    """The ``VectorDocument`` of a Haystack document, checked against ``index``'s collection."""
    spec = index.spec
    if doc.embedding is not None and spec.dense_dim is None:
        raise DocumentError(f"collection {spec.name!r} has no dense field; set embedding_dim to store embeddings")
    if doc.sparse_embedding is not None and not spec.sparse_fields:
        raise DocumentError(f"collection {spec.name!r} has no sparse field; set sparse_embeddings=True")
    base = to_vecbridge_document(doc)
    try:
        sparse = {}
        if doc.sparse_embedding is not None:
            sparse[SPARSE_FIELD] = SparseVector(
                indices=list(doc.sparse_embedding.indices), values=list(doc.sparse_embedding.values)
            )
        vdoc = VectorDocument(**base.model_dump(), dense=doc.embedding, sparse=sparse)
        index.check_vectors(vdoc)
    except PydanticValidationError as exc:
        raise DocumentError(describe_validation_error(exc, f"document {doc.id!r}")) from None
    except InvalidInputError as exc:
        raise DocumentError(f"embedding rejected: {exc}") from None
    return vdoc


def _meta_key(field: str) -> str:
    return field[len(META_PREFIX) :] if field.startswith(META_PREFIX) else field


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "int" if isinstance(value, int) else "float" if isinstance(value, float) else "keyword"


def _distinct(metas: Iterable[dict[str, Any]], key: str) -> dict[tuple[str, str], Any]:
    """Distinct non-null values of ``key`` (1, 1.0, True and "1" stay apart), by (type, JSON text)."""
    import json

    out: dict[tuple[str, str], Any] = {}
    for meta in metas:
        value = meta.get(key)
        if value is not None:
            out.setdefault((type(value).__name__, json.dumps(value, sort_keys=True)), value)
    return out


def _check_documents(documents: Any) -> None:
    if not isinstance(documents, list) or not all(isinstance(d, HaystackDocument) for d in documents):
        raise DocumentError(f"write_documents takes a list of haystack Documents, got {short_repr(documents)}")


def _apply_policy(
    documents: list[HaystackDocument], policy: DuplicatePolicy, existing: set[str]
) -> list[HaystackDocument]:
    """The documents to write under ``policy``, given the ids already stored: ``OVERWRITE`` keeps the
    last of a repeated id, ``SKIP`` the first of each id not stored, ``NONE``/``FAIL`` all of them or
    ``DuplicateDocumentError`` when an id is stored or repeats."""
    if policy is DuplicatePolicy.OVERWRITE:
        return list({d.id: d for d in documents}.values())
    if policy is DuplicatePolicy.SKIP:
        unique = {d.id: d for d in reversed(documents)}
        return [d for i, d in unique.items() if i not in existing][::-1]
    repeated = sorted({i for i, n in Counter(d.id for d in documents).items() if n > 1} | existing)
    if repeated:
        raise DuplicateDocumentError(f"documents with ids {repeated[:10]} already exist or repeat")
    return documents


def _document_ids(document_ids: Any) -> list[str]:
    """``document_ids`` as a list; a single string is refused (it is not a list of ids)."""
    if isinstance(document_ids, (str, bytes)) or not isinstance(document_ids, Iterable):
        raise DocumentError(f"document_ids must be a list of ids, got {short_repr(document_ids)}")
    return list(document_ids)


def _validated_filter(filters: Optional[dict[str, Any]], spec: CollectionSpec) -> Any:
    """The vecbridge filter of Haystack ``filters`` validated against ``spec`` (``None``: no filter)."""
    from vecbridge.schemas import parse_filter, validate_filter

    tree = to_vecbridge_filter(filters)
    if tree is None:
        return None
    try:
        return validate_filter(parse_filter(tree), spec)
    except VecbridgeFilterError as exc:
        raise FilterError(str(exc)) from None


def _text_retrievers(index: Any) -> list[str]:
    return [n for n, r in index.retrievers.items() if r.takes_text]


def _unique_counts(metas: list[dict[str, Any]], metadata_fields: list[str]) -> dict[str, int]:
    return {key: len(_distinct(metas, key)) for key in map(_meta_key, metadata_fields)}


def _fields_info(metas: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    types: dict[str, str] = {}
    for meta in metas:
        for key, value in meta.items():
            if value is not None:
                types[key] = _type_name(value)
    return {k: {"type": v} for k, v in types.items()}


def _min_max(metas: list[dict[str, Any]], metadata_field: str) -> dict[str, Any]:
    key = _meta_key(metadata_field)
    values = [m[key] for m in metas if isinstance(m.get(key), (int, float, str))]
    try:
        return {"min": min(values), "max": max(values)} if values else {"min": None, "max": None}
    except TypeError:  # mixed types (str and numbers) have no order
        return {"min": None, "max": None}


def _unique_values_page(
    metas: list[dict[str, Any]], metadata_field: str, search_term: Optional[str], from_: int, size: int
) -> tuple[list[Any], int]:
    values = list(_distinct(metas, _meta_key(metadata_field)).values())
    if search_term:
        values = [v for v in values if search_term.lower() in str(v).lower()]
    values.sort(key=lambda v: (str(v), type(v).__name__))
    return values[from_ : from_ + size], len(values)


# ---- retrievers ---------------------------------------------------------------------------------
def _hits_to_documents(hits: Iterable[Any]) -> list[HaystackDocument]:
    return [to_haystack_document(h, score=h.score) for h in hits]


def _retriever_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """A retriever component from ``to_dict`` output: its document store is rebuilt first."""
    params = data.get("init_parameters", {})
    params["document_store"] = VecbridgeDocumentStore.from_dict(params["document_store"])
    return default_from_dict(cls, data)


@component
class VecbridgeHybridRetriever:
    """Query text -> documents by vecbridge search over a ``VecbridgeDocumentStore``: ``mode``
    ``hybrid`` (every retriever of the store: dense/sparse encoders and the backend's BM25, fused
    by RRF), ``dense``, ``sparse`` or ``text``. ``Document.score`` is the fused (or single) score."""

    def __init__(
        self,
        document_store: VecbridgeDocumentStore,
        top_k: int = 10,
        filters: Optional[dict[str, Any]] = None,
        mode: str = "hybrid",
    ) -> None:
        if not isinstance(document_store, VecbridgeDocumentStore):
            raise ConfigurationError(
                f"document_store must be a VecbridgeDocumentStore, got {type(document_store).__name__}"
            )
        if mode not in MODES:
            raise ConfigurationError(f"mode={mode!r}; choose one of {list(MODES)}")
        self.document_store, self.top_k, self.filters, self.mode = document_store, top_k, filters, mode

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self, document_store=self.document_store.to_dict(), top_k=self.top_k, filters=self.filters, mode=self.mode
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VecbridgeHybridRetriever:
        return _retriever_from_dict(cls, data)

    @component.output_types(documents=list[HaystackDocument])
    def run(self, query: str, filters: Optional[dict[str, Any]] = None, top_k: Optional[int] = None) -> dict[str, Any]:
        """Documents for ``query`` (``filters``/``top_k`` override the init values for this call)."""
        index = self.document_store.index
        hits = index.search(query, **self._search_args(index, filters, top_k))
        return {"documents": _hits_to_documents(hits)}

    @component.output_types(documents=list[HaystackDocument])
    async def run_async(
        self, query: str, filters: Optional[dict[str, Any]] = None, top_k: Optional[int] = None
    ) -> dict[str, Any]:
        """``run`` on the store's ``AsyncHybridIndex`` (query encoding in its executor)."""
        index = await self.document_store.async_index()
        hits = await index.search(query, **self._search_args(index, filters, top_k))
        return {"documents": _hits_to_documents(hits)}

    def _search_args(self, index: Any, filters: Optional[dict[str, Any]], top_k: Optional[int]) -> dict[str, Any]:
        """``search`` arguments for this call: filter, k and the retrievers of ``mode``."""
        usable = _text_retrievers(index)
        names = usable if self.mode == "hybrid" else [n for n in usable if n == self.mode]
        if not names:
            raise ConfigurationError(
                f"mode={self.mode!r}: the store has no retriever for query texts of that kind (it has {usable}); "
                "set dense_model / sparse_model / text_search, or use VecbridgeEmbeddingRetriever"
            )
        flt = _validated_filter(filters if filters is not None else self.filters, index.spec)
        k = top_k if top_k is not None else self.top_k
        return {"k": k, "mode": "hybrid", "filter": flt, "retrievers": names}


@component
class VecbridgeEmbeddingRetriever:
    """Query embedding -> the nearest documents by dense search (``HybridIndex.search_by_vector``);
    ``Document.score`` is the relevance in [0, 1] where the metric allows, else the raw score."""

    def __init__(
        self, document_store: VecbridgeDocumentStore, top_k: int = 10, filters: Optional[dict[str, Any]] = None
    ) -> None:
        if not isinstance(document_store, VecbridgeDocumentStore):
            raise ConfigurationError(
                f"document_store must be a VecbridgeDocumentStore, got {type(document_store).__name__}"
            )
        self.document_store, self.top_k, self.filters = document_store, top_k, filters

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self, document_store=self.document_store.to_dict(), top_k=self.top_k, filters=self.filters
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VecbridgeEmbeddingRetriever:
        return _retriever_from_dict(cls, data)

    @component.output_types(documents=list[HaystackDocument])
    def run(
        self, query_embedding: list[float], filters: Optional[dict[str, Any]] = None, top_k: Optional[int] = None
    ) -> dict[str, Any]:
        index = self.document_store.index
        hits = index.search_by_vector(list(query_embedding), **self._search_args(index, filters, top_k))
        return {"documents": _relevance_documents(hits)}

    @component.output_types(documents=list[HaystackDocument])
    async def run_async(
        self, query_embedding: list[float], filters: Optional[dict[str, Any]] = None, top_k: Optional[int] = None
    ) -> dict[str, Any]:
        """``run`` on the store's ``AsyncHybridIndex``."""
        index = await self.document_store.async_index()
        hits = await index.search_by_vector(list(query_embedding), **self._search_args(index, filters, top_k))
        return {"documents": _relevance_documents(hits)}

    def _search_args(self, index: Any, filters: Optional[dict[str, Any]], top_k: Optional[int]) -> dict[str, Any]:
        flt = _validated_filter(filters if filters is not None else self.filters, index.spec)
        return {"k": top_k if top_k is not None else self.top_k, "filter": flt, "retriever": "dense"}


def _relevance_documents(hits: Iterable[Any]) -> list[HaystackDocument]:
    """Documents scored by relevance in [0, 1] where the metric gives one, else the raw score."""
    return [
        to_haystack_document(h, score=h.relevance if getattr(h, "relevance", None) is not None else h.score)
        for h in hits
    ]
