"""Haystack 2.x adapter (``pip install vecbridge[haystack]``): a ``DocumentStore`` over a vecbridge
``HybridIndex`` and two retriever components.

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

from collections.abc import Iterable, Sequence
from typing import Any, Optional

import numpy as np
from haystack import component, default_from_dict, default_to_dict
from haystack.dataclasses import Document as HaystackDocument
from haystack.dataclasses import SparseEmbedding
from haystack.document_stores.errors import DuplicateDocumentError as HaystackDuplicateError
from haystack.document_stores.types import DuplicatePolicy
from haystack.errors import FilterError as HaystackFilterError
from pydantic import ValidationError as PydanticValidationError

from vecbridge.schemas import CollectionSpec, Document, IndexBatch, Metric, ScalarType, SparseVector
from vecbridge.schemas.errors import ConfigurationError, VecbridgeError, describe_validation_error, short_repr
from vecbridge.schemas.errors import FilterError as VecbridgeFilterError

__all__ = [
    "DocumentError", "DuplicateDocumentError", "FilterError", "VecbridgeDocumentStore",
    "VecbridgeEmbeddingRetriever", "VecbridgeHybridRetriever", "to_vecbridge_filter",
]

BACKENDS = ("milvus", "elasticsearch")
MODES = ("hybrid", "dense", "sparse", "text")
SPARSE_FIELD = "sparse"  # the collection's one sparse field (Haystack documents have one sparse_embedding)
COMPARISONS = ("==", "!=", ">", ">=", "<", "<=", "in", "not in")
LOGICAL = {"AND": "all", "OR": "any"}
META_PREFIX = "meta."


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
    return {"key": field[len(META_PREFIX):], "op": operator, "value": node["value"]}


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
        id=doc.id, content=doc.text, meta=dict(doc.metadata), score=score,
        embedding=None if dense is None else [float(x) for x in dense], sparse_embedding=sparse_embedding,
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
        self._encoders: dict[str, Any] = {}

    # -- lifecycle --
    @property
    def index(self) -> Any:
        """The ``HybridIndex`` behind the store (connected and created on first use)."""
        if self._index is None:
            self._index = self._open()
        return self._index

    def _open(self) -> Any:
        from vecbridge.index import HybridIndex, Retriever, RetrieverKind

        dense = sparse = None
        if self.dense_model:
            from vecbridge.encoders.factory import load_encoder

            dense = load_encoder(self.dense_model)
        if self.sparse_model:
            from vecbridge.encoders.factory import load_encoder

            sparse = load_encoder(self.sparse_model)
        dim = self.embedding_dim if self.embedding_dim is not None else getattr(dense, "dense_dim", None)
        if dense is not None and dense.dense_dim not in (None, dim):
            raise ConfigurationError(f"embedding_dim={dim} but dense_model {self.dense_model!r} has dim {dense.dense_dim}")
        with_sparse = sparse is not None or self.sparse_embeddings
        try:
            spec = CollectionSpec(
                name=self.collection, dense_dim=dim, metric=Metric(self.metric),
                sparse_fields=("sparse",) if with_sparse else (),
                filterable={k: ScalarType(v) for k, v in self.filterable.items()},
                text_analyzer=self.text_analyzer if self.text_search else None,
            )
        except (PydanticValidationError, ValueError) as exc:
            detail = describe_validation_error(exc, "invalid store") if isinstance(exc, PydanticValidationError) else str(exc)
            raise ConfigurationError(detail) from None
        # Vectors the documents bring (no model here) are searched through a stand-in encoder that
        # only declares the output, so search_by_vector finds a "dense"/"sparse" retriever.
        self._encoders = {"dense": dense, "sparse": sparse}
        if dense is None and dim is not None:
            dense = ExternalVectors(dim=dim)
        if sparse is None and with_sparse:
            sparse = ExternalVectors(sparse=True)
        retrievers = [Retriever("text", None, RetrieverKind.TEXT, "text")] if self.text_search else []
        if dense is not None:
            retrievers.append(Retriever("dense", dense, RetrieverKind.DENSE, "dense"))
        if sparse is not None:
            retrievers.append(Retriever("sparse", sparse, RetrieverKind.SPARSE, "sparse"))
        connector = self._connector()
        try:
            return HybridIndex(connector, spec, retrievers)
        except BaseException:
            connector.close()
            raise

    def text_retrievers(self) -> list[str]:
        """The retrievers a query text can run: the backend's BM25 and those with a vecbridge model."""
        return [n for n, r in self.index.retrievers.items() if not isinstance(r.encoder, ExternalVectors)]

    def _connector(self) -> Any:
        if self.backend == "milvus":
            from vecbridge.connectors.milvus import MilvusConnector

            return MilvusConnector(uri=self.uri)
        from vecbridge.connectors.elasticsearch import ElasticsearchConnector

        return ElasticsearchConnector(url=self.es_url)

    def close(self) -> None:
        """Close the index's pool and the connector (a later call reconnects)."""
        index, self._index = self._index, None
        if index is not None:
            index.close()
            index.connector.close()

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self, backend=self.backend, uri=self.uri, es_url=self.es_url, collection=self.collection,
            embedding_dim=self.embedding_dim, dense_model=self.dense_model, sparse_model=self.sparse_model,
            sparse_embeddings=self.sparse_embeddings, text_search=self.text_search,
            text_analyzer=self.text_analyzer, filterable=self.filterable, metric=self.metric,
            embed_missing=self.embed_missing,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VecbridgeDocumentStore":
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
        if not isinstance(documents, list) or not all(isinstance(d, HaystackDocument) for d in documents):
            raise DocumentError(f"write_documents takes a list of haystack Documents, got {short_repr(documents)}")
        if not documents:
            return 0
        ids = [d.id for d in documents]
        if policy is DuplicatePolicy.OVERWRITE:
            documents = list({d.id: d for d in documents}.values())  # the last one of a repeated id wins
        else:
            existing = {d.id for d in self.index.get(list(dict.fromkeys(ids)))}
            if policy is DuplicatePolicy.SKIP:
                unique = {d.id: d for d in reversed(documents)}  # the first one of a repeated id wins
                documents = [d for i, d in unique.items() if i not in existing][::-1]
            else:
                repeated = sorted({i for i in ids if ids.count(i) > 1} | existing)
                if repeated:
                    raise DuplicateDocumentError(f"documents with ids {repeated[:10]} already exist or repeat")
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
        updated = [to_haystack_document(d) for d in matched]
        for doc in updated:
            doc.meta = {**doc.meta, **meta}
        if updated:
            self._upsert(updated, embed=False)
        return len(updated)

    # -- metadata summaries: client-side scans over the matching documents' metadata --
    def count_unique_metadata_by_filter(self, filters: dict[str, Any], metadata_fields: list[str]) -> dict[str, int]:
        """``{field: number of distinct non-null values}`` over the documents matching ``filters``."""
        metas = self._metadata(filters)
        return {key: len(_distinct(metas, key)) for key in map(_meta_key, metadata_fields)}

    def get_metadata_fields_info(self) -> dict[str, dict[str, str]]:
        """``{key: {"type": keyword|int|float|boolean}}`` of the metadata keys stored (inferred from values)."""
        types: dict[str, str] = {}
        for meta in self._metadata(None):
            for key, value in meta.items():
                if value is not None:
                    types[key] = _type_name(value)
        return {k: {"type": v} for k, v in types.items()}

    def get_metadata_field_min_max(self, metadata_field: str) -> dict[str, Any]:
        """``{"min": ..., "max": ...}`` of a metadata key's scalar values (``None`` when it has none)."""
        key = _meta_key(metadata_field)
        values = [m[key] for m in self._metadata(None) if isinstance(m.get(key), (int, float, str))]
        try:
            return {"min": min(values), "max": max(values)} if values else {"min": None, "max": None}
        except TypeError:  # mixed types (str and numbers) have no order
            return {"min": None, "max": None}

    def get_metadata_field_unique_values(
        self, metadata_field: str, search_term: Optional[str] = None, from_: int = 0, size: int = 10,
        filters: Optional[dict[str, Any]] = None,
    ) -> tuple[list[Any], int]:
        """A page of a key's distinct values (sorted by text, then type; ``search_term``: case-insensitive
        substring) over the documents matching ``filters``, and how many there are in all."""
        values = list(_distinct(self._metadata(filters), _meta_key(metadata_field)).values())
        if search_term:
            values = [v for v in values if search_term.lower() in str(v).lower()]
        values.sort(key=lambda v: (str(v), type(v).__name__))
        return values[from_ : from_ + size], len(values)

    def _metadata(self, filters: Optional[dict[str, Any]]) -> list[dict[str, Any]]:
        return [d.metadata for d in self.index.iterate(filter=self._filter(filters))]

    # -- internals --
    def _filter(self, filters: Optional[dict[str, Any]]) -> Any:
        """The validated vecbridge filter of Haystack ``filters`` (``None``: no filter)."""
        from vecbridge.schemas import parse_filter, validate_filter

        tree = to_vecbridge_filter(filters)
        if tree is None:
            return None
        try:
            return validate_filter(parse_filter(tree), self.index.spec)
        except VecbridgeFilterError as exc:
            raise FilterError(str(exc)) from None

    def _upsert(self, documents: Sequence[HaystackDocument], embed: Optional[bool] = None) -> None:
        """Write ``documents`` with the vectors they carry (missing ones encoded when ``embed``)."""
        index = self.index
        spec = index.spec
        embed = self.embed_missing if embed is None else embed
        converted = [to_vecbridge_document(d) for d in documents]
        dense_rows = [d.embedding for d in documents]
        sparse_rows = [d.sparse_embedding for d in documents]
        if spec.dense_dim is None and any(r is not None for r in dense_rows):
            raise DocumentError(f"collection {spec.name!r} has no dense field; set embedding_dim to store embeddings")
        if not spec.sparse_fields and any(r is not None for r in sparse_rows):
            raise DocumentError(f"collection {spec.name!r} has no sparse field; set sparse_embeddings=True")
        if embed:
            for kind, rows in (("dense", dense_rows), ("sparse", sparse_rows)):
                encoder = self._encoders.get(kind)
                todo = [i for i, row in enumerate(rows) if row is None]
                if encoder is None or not todo:
                    continue
                out = encoder.encode_documents([converted[i].text for i in todo])
                vectors = out.dense if kind == "dense" else out.sparse
                for row, i in enumerate(todo):
                    rows[i] = vectors[row]  # type: ignore[index]
        batch = _index_batch(spec, converted, dense_rows, sparse_rows)
        index.write_batch(batch)  # BM25 statistics (LiveBM25Encoder) count what the store acknowledged


class ExternalVectors:
    """Encoder stand-in for vectors computed outside vecbridge (Haystack embedders): it declares a
    dense (``dim``) or sparse output so the index has a retriever to search by vector, and refuses
    to encode text."""

    sparse_vocab_size = None

    def __init__(self, dim: Optional[int] = None, sparse: bool = False) -> None:
        from vecbridge.encoders.base import OutputKind

        self.name = "external-sparse" if sparse else "external-dense"
        self.dense_dim = None if sparse else dim
        self.outputs = frozenset({OutputKind.SPARSE if sparse else OutputKind.DENSE})

    def encode_documents(self, texts: Sequence[str]) -> Any:
        raise ConfigurationError(
            f"{self.name}: this store has no vecbridge model for these vectors; give documents their "
            "embeddings (or set dense_model / sparse_model) and search them by vector"
        )

    encode_queries = encode_documents


def _index_batch(
    spec: CollectionSpec, documents: list[Document], dense_rows: list[Any], sparse_rows: list[Any]
) -> IndexBatch:
    """Row-aligned vectors for the connector; rows without a dense vector are masked out."""
    dense = mask = None
    if spec.dense_dim is not None:
        dim = spec.dense_dim
        for doc, row in zip(documents, dense_rows):
            if row is not None and len(row) != dim:
                raise DocumentError(f"document {doc.id!r}: embedding has {len(row)} values, the collection {dim}")
        dense = np.zeros((len(documents), dim), dtype=np.float32)
        for i, row in enumerate(dense_rows):
            if row is not None:
                dense[i] = np.asarray(row, dtype=np.float32)
        mask = [row is not None for row in dense_rows]
    sparse = {}
    if spec.sparse_fields:
        sparse["sparse"] = [_sparse(doc.id, row) for doc, row in zip(documents, sparse_rows)]
    try:
        if mask is not None and not all(mask):
            return IndexBatch(documents=documents, dense=dense, sparse=sparse, dense_present=mask)
        return IndexBatch(documents=documents, dense=dense, sparse=sparse)
    except PydanticValidationError as exc:
        raise DocumentError(describe_validation_error(exc, "invalid documents")) from None


def _sparse(doc_id: str, row: Any) -> SparseVector:
    if row is None:
        return SparseVector(indices=[], values=[])
    if isinstance(row, SparseVector):
        return row
    try:
        return SparseVector(indices=list(row.indices), values=list(row.values))
    except (PydanticValidationError, ValueError) as exc:
        raise DocumentError(f"document {doc_id!r}: invalid sparse_embedding: {exc}") from None


def _meta_key(field: str) -> str:
    return field[len(META_PREFIX):] if field.startswith(META_PREFIX) else field


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
            raise ConfigurationError(f"document_store must be a VecbridgeDocumentStore, got {type(document_store).__name__}")
        if mode not in MODES:
            raise ConfigurationError(f"mode={mode!r}; choose one of {list(MODES)}")
        self.document_store, self.top_k, self.filters, self.mode = document_store, top_k, filters, mode

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self, document_store=self.document_store.to_dict(), top_k=self.top_k, filters=self.filters, mode=self.mode
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VecbridgeHybridRetriever":
        return _retriever_from_dict(cls, data)

    @component.output_types(documents=list[HaystackDocument])
    def run(self, query: str, filters: Optional[dict[str, Any]] = None, top_k: Optional[int] = None) -> dict[str, Any]:
        """Documents for ``query`` (``filters``/``top_k`` override the init values for this call)."""
        store = self.document_store
        flt = store._filter(filters if filters is not None else self.filters)
        k = top_k if top_k is not None else self.top_k
        usable = store.text_retrievers()
        names = usable if self.mode == "hybrid" else [n for n in usable if n == self.mode]
        if not names:
            raise ConfigurationError(
                f"mode={self.mode!r}: the store has no retriever for query texts of that kind (it has {usable}); "
                "set dense_model / sparse_model / text_search, or use VecbridgeEmbeddingRetriever"
            )
        hits = store.index.search(query, k=k, mode="hybrid", filter=flt, retrievers=names)
        return {"documents": _hits_to_documents(hits)}


@component
class VecbridgeEmbeddingRetriever:
    """Query embedding -> the nearest documents by dense search (``HybridIndex.search_by_vector``);
    ``Document.score`` is the relevance in [0, 1] where the metric allows, else the raw score."""

    def __init__(
        self, document_store: VecbridgeDocumentStore, top_k: int = 10, filters: Optional[dict[str, Any]] = None
    ) -> None:
        if not isinstance(document_store, VecbridgeDocumentStore):
            raise ConfigurationError(f"document_store must be a VecbridgeDocumentStore, got {type(document_store).__name__}")
        self.document_store, self.top_k, self.filters = document_store, top_k, filters

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, document_store=self.document_store.to_dict(), top_k=self.top_k, filters=self.filters)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VecbridgeEmbeddingRetriever":
        return _retriever_from_dict(cls, data)

    @component.output_types(documents=list[HaystackDocument])
    def run(
        self, query_embedding: list[float], filters: Optional[dict[str, Any]] = None, top_k: Optional[int] = None
    ) -> dict[str, Any]:
        store = self.document_store
        flt = store._filter(filters if filters is not None else self.filters)
        k = top_k if top_k is not None else self.top_k
        hits = store.index.search_by_vector(list(query_embedding), k=k, filter=flt, retriever="dense")
        docs = [
            to_haystack_document(h, score=h.relevance if getattr(h, "relevance", None) is not None else h.score)
            for h in hits
        ]
        return {"documents": docs}
