"""LlamaIndex adapter (``pip install 'vecbridge[llamaindex]'``, llama-index-core >= 0.12).

- ``VecbridgeVectorStore``: a ``BasePydanticVectorStore`` over a ``HybridIndex`` (``stores_text=True``).
  A node becomes a vecbridge ``Document``: id = node id, text = the node's content, metadata = the
  node's metadata plus LlamaIndex's usual keys (``_node_content``: the node as JSON without text and
  embedding, ``_node_type``, ``ref_doc_id``/``doc_id``/``document_id``). Its embedding is written as the
  dense vector (a ``VectorDocument`` through ``HybridIndex.upsert``); the index's encoders fill the rest.
- ``VecbridgeEmbedding``: a LlamaIndex embedding model over a vecbridge dense encoder. Use the index's
  own dense encoder, so that node embeddings and vecbridge's query encoding (sparse/hybrid modes) agree.
- ``metadata_filters_to_filter``: LlamaIndex ``MetadataFilters`` -> vecbridge filter tree (pure).

Query modes: ``DEFAULT`` searches the dense field by the query embedding; ``SPARSE`` and
``TEXT_SEARCH`` search by the query string (a sparse encoder, or the store's own BM25 ``text``
retriever when the index has one; each falls back to the other); ``HYBRID`` runs vecbridge's own
hybrid search on the query string (every retriever of the index, fused by RRF), with ``alpha``
mapped to fusion weights: dense retrievers get ``alpha``, sparse and text retrievers ``1 - alpha``
(LlamaIndex: 0 = keyword only, 1 = vector only; a weight of 0 drops a retriever; no alpha: equal
weights). Without a query string ``HYBRID`` searches by the embedding alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

try:
    from llama_index.core.base.embeddings.base import BaseEmbedding
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"vecbridge.integrations.llamaindex needs llama-index-core: pip install 'vecbridge[llamaindex]' ({exc})"
    ) from exc
from llama_index.core.schema import BaseNode, MetadataMode, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict
from pydantic import PrivateAttr, ValidationError

from vecbridge.index import HybridIndex, RetrieverKind
from vecbridge.schemas import (
    ConfigurationError,
    Filter,
    FilterError,
    VectorDocument,
    WriteError,
    matches,
    parse_filter,
    validate_filter,
)
from vecbridge.schemas.errors import describe_validation_error, short_repr

REF_DOC_KEY = "ref_doc_id"
"""Filterable key (string) every index behind ``VecbridgeVectorStore`` declares: ``delete(ref_doc_id)``."""

_OPS = {
    FilterOperator.EQ: "==",
    FilterOperator.NE: "!=",
    FilterOperator.GT: ">",
    FilterOperator.GTE: ">=",
    FilterOperator.LT: "<",
    FilterOperator.LTE: "<=",
    FilterOperator.IN: "in",
    FilterOperator.NIN: "not in",
}


# ---- filters ------------------------------------------------------------------------------------
def metadata_filters_to_filter(filters: Optional[MetadataFilters]) -> Optional[Filter]:
    """The vecbridge filter tree of LlamaIndex ``filters`` (``None``: no filter).

    Operators ``EQ NE GT GTE LT LTE IN NIN``; conditions ``AND`` (all), ``OR`` (any) and ``NOT``
    (none of the filters match, as in LlamaIndex's own evaluator); nested ``MetadataFilters`` nest.
    An empty group constrains nothing. Other operators raise ``FilterError`` naming the filter's path.
    """
    if filters is None:
        return None
    tree = _translate(filters, "filters")
    return None if tree is None else parse_filter(tree)


def _translate(node: MetadataFilters | MetadataFilter, path: str) -> Optional[dict[str, Any]]:
    if isinstance(node, MetadataFilter):
        op = _OPS.get(node.operator)
        if op is None:
            raise FilterError(
                f"{path}: operator {node.operator.value!r} (key {short_repr(node.key)}) is not supported; "
                f"supported: {[o.value for o in _OPS]}"
            )
        if op in ("in", "not in") and not isinstance(node.value, list):
            raise FilterError(f"{path}: operator {op!r} needs a list value, got {short_repr(node.value)}")
        return {"key": node.key, "op": op, "value": node.value}
    children = [_translate(child, f"{path}.filters[{i}]") for i, child in enumerate(node.filters)]
    children = [c for c in children if c is not None]
    if not children:
        return None
    condition = node.condition or FilterCondition.AND
    if condition == FilterCondition.NOT:
        return {"not": children[0] if len(children) == 1 else {"any": children}}
    if len(children) == 1:
        return children[0]
    if condition == FilterCondition.AND:
        return {"all": children}
    if condition == FilterCondition.OR:
        return {"any": children}
    raise FilterError(f"{path}.condition: {short_repr(condition)} is not one of and, or, not")


# ---- embeddings -----------------------------------------------------------------------------------
class VecbridgeEmbedding(BaseEmbedding):
    """A LlamaIndex embedding model over a vecbridge encoder with a dense output (``load_encoder(...)``).

    Queries go through ``encode_queries`` and texts through ``encode_documents``, so encoders with
    query/document prompts embed each side as vecbridge does."""

    _encoder: Any = PrivateAttr()

    def __init__(self, encoder: Any, embed_batch_size: int = 32, **kwargs: Any) -> None:
        if "dense" not in {getattr(o, "value", o) for o in getattr(encoder, "outputs", ())}:
            raise ConfigurationError(f"encoder {getattr(encoder, 'name', encoder)!r} has no dense output")
        super().__init__(
            model_name=str(getattr(encoder, "name", type(encoder).__name__)),
            embed_batch_size=embed_batch_size,
            **kwargs,
        )
        self._encoder = encoder

    @classmethod
    def class_name(cls) -> str:
        return "VecbridgeEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._encoder.encode_queries([query]).dense[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._encoder.encode_documents(list(texts)).dense.tolist()


# ---- the vector store -----------------------------------------------------------------------------
class VecbridgeVectorStore(BasePydanticVectorStore):
    """LlamaIndex vector store over a ``HybridIndex`` whose spec declares ``ref_doc_id`` filterable
    (``VecbridgeVectorStore.create`` does that). See the module docstring for modes and mapping."""

    stores_text: bool = True
    flat_metadata: bool = False
    _index: HybridIndex = PrivateAttr()

    def __init__(self, index: HybridIndex, **kwargs: Any) -> None:
        if index.spec.filterable.get(REF_DOC_KEY) is None or index.spec.filterable[REF_DOC_KEY].value != "string":
            raise ConfigurationError(
                f"collection {index.spec.name!r}: declare filterable {{'{REF_DOC_KEY}': 'string'}} "
                "(VecbridgeVectorStore.create does) so that delete(ref_doc_id) can find a document's nodes"
            )
        super().__init__(**kwargs)
        self._index = index

    @classmethod
    def create(
        cls, connector: Any, name: str, filterable: Optional[dict[str, Any]] = None, **kwargs: Any
    ) -> VecbridgeVectorStore:
        """``HybridIndex.create(connector, name, filterable=filterable + {"ref_doc_id": "string"}, **kwargs)``
        wrapped in a store (opens the collection when it exists; its spec must match)."""
        keys = {**(filterable or {}), REF_DOC_KEY: "string"}
        return cls(HybridIndex.create(connector, name, filterable=keys, **kwargs))

    @classmethod
    def class_name(cls) -> str:
        return "VecbridgeVectorStore"

    @property
    def client(self) -> HybridIndex:
        return self._index

    @property
    def index(self) -> HybridIndex:
        return self._index

    # -- writes ---------------------------------------------------------------------------------
    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Write nodes through ``HybridIndex.upsert`` (idempotent by node id; a repeated id keeps the
        last node): a node's embedding is written as given, a node without one is embedded with the
        index's dense encoder, the sparse encoders encode the text. Rows that cannot be written (not
        valid documents, an embedding of another size, a store rejection) are reported in one
        ``WriteError`` after every other row is written."""
        latest = {node.node_id: node for node in nodes}
        documents: list[VectorDocument] = []
        failed: dict[str, str] = {}
        for node_id, node in latest.items():
            try:
                documents.append(self._document(node))
            except ValidationError as exc:
                failed[node_id] = describe_validation_error(exc, f"node {short_repr(node_id)}")
            except ValueError as exc:  # flat_metadata=True and a nested value (LlamaIndex's own check)
                failed[node_id] = f"node {short_repr(node_id)}: {exc}"
        report = self._index.upsert(documents)
        failed.update(report.failed)
        if failed:
            first = next(iter(failed.values()))
            message = f"{len(failed)} of {len(latest)} nodes not written; first: {first}"
            raise WriteError(message, failed, report.written)
        return [node.node_id for node in nodes]

    def _document(self, node: BaseNode) -> VectorDocument:
        metadata = node_to_metadata_dict(node, remove_text=True, flat_metadata=self.flat_metadata)
        dense = node.embedding if self._index.spec.dense_dim is not None else None  # no dense field: not stored
        return VectorDocument(
            id=node.node_id, text=node.get_content(metadata_mode=MetadataMode.NONE), metadata=metadata, dense=dense
        )

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of the document ``ref_doc_id``."""
        self._index.delete(filter={"key": REF_DOC_KEY, "op": "==", "value": ref_doc_id})

    def delete_nodes(
        self, node_ids: Optional[list[str]] = None, filters: Optional[MetadataFilters] = None, **delete_kwargs: Any
    ) -> None:
        """Delete the nodes that are in ``node_ids`` and match ``filters`` (either may be None: no
        constraint from it; both None deletes nothing)."""
        filter_ = metadata_filters_to_filter(filters)
        if node_ids is not None:
            if filter_ is not None:
                node_ids = [d.id for d in self._index.get(node_ids) if self._matches(filter_, d.metadata)]
            if node_ids:
                self._index.delete(ids=node_ids)
        elif filter_ is not None:
            self._index.delete(filter=filter_)

    def _matches(self, filter_: Filter, metadata: dict[str, Any]) -> bool:
        """``vecbridge.schemas.matches`` with the collection's spec (datetime keys compare as instants), for the
        nodes of given ids; the filter is validated as the store would (declared keys, types)."""
        return matches(validate_filter(filter_, self._index.spec), metadata, self._index.spec)

    def clear(self) -> None:
        """Delete every node; the collection stays."""
        self._index.delete_all()

    # -- reads ----------------------------------------------------------------------------------
    def get_nodes(
        self, node_ids: Optional[list[str]] = None, filters: Optional[MetadataFilters] = None
    ) -> list[BaseNode]:
        """Nodes by id (in the order given, missing ones skipped) and/or matching ``filters``."""
        filter_ = metadata_filters_to_filter(filters)
        if node_ids is not None:
            docs = [d for d in self._index.get(node_ids) if filter_ is None or self._matches(filter_, d.metadata)]
        else:
            docs = list(self._index.iterate(filter=filter_))
        return [to_node(d.id, d.text, d.metadata) for d in docs]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        filter_ = self._query_filter(query)
        mode = VectorStoreQueryMode(query.mode)
        if query.node_ids:
            raise ConfigurationError("VectorStoreQuery.node_ids is not supported by VecbridgeVectorStore; use filters")
        if mode in (VectorStoreQueryMode.SPARSE, VectorStoreQueryMode.TEXT_SEARCH):
            k = query.sparse_top_k or query.similarity_top_k
            hits = self._index.search(
                self._text(query), k=k, mode="hybrid", filter=filter_, retrievers=[self._lexical(mode)]
            )
        elif mode is VectorStoreQueryMode.HYBRID and query.query_str:
            k = query.hybrid_top_k or query.similarity_top_k
            hits = self._index.search(
                query.query_str, k=k, mode="hybrid", filter=filter_, weights=self._weights(query.alpha)
            )
        elif mode in (VectorStoreQueryMode.DEFAULT, VectorStoreQueryMode.HYBRID):
            hits = self._by_vector(query, filter_)
        else:
            raise ConfigurationError(
                f"query mode {mode.value!r} is not supported by VecbridgeVectorStore; use default, sparse, "
                "text_search or hybrid"
            )
        return VectorStoreQueryResult(
            nodes=[to_node(h.id, h.text, h.metadata) for h in hits],
            similarities=[h.score for h in hits],
            ids=[h.id for h in hits],
        )

    def _query_filter(self, query: VectorStoreQuery) -> Optional[Filter]:
        filter_ = metadata_filters_to_filter(query.filters)
        if query.doc_ids:
            docs = parse_filter({"key": REF_DOC_KEY, "op": "in", "value": list(query.doc_ids)})
            filter_ = docs if filter_ is None else parse_filter({"all": [docs, filter_]})
        return filter_

    def _by_vector(self, query: VectorStoreQuery, filter_: Optional[Filter]) -> list:
        dense = next((n for n, r in self._index.retrievers.items() if r.kind is RetrieverKind.DENSE), None)
        if dense is None:
            raise ConfigurationError(f"query mode {query.mode!r}: the index has no dense retriever")
        if query.query_embedding is None:
            if not query.query_str:
                raise ConfigurationError("VectorStoreQuery needs query_embedding or query_str")
            return self._index.search(query.query_str, k=query.similarity_top_k, mode="dense", filter=filter_)
        return self._index.search_by_vector(
            list(query.query_embedding), k=query.similarity_top_k, filter=filter_, retriever=dense
        )

    def _lexical(self, mode: VectorStoreQueryMode) -> str:
        """The retriever for SPARSE (a sparse encoder, else the store's text search) or TEXT_SEARCH
        (the store's text search, else a sparse encoder)."""
        kinds = {n: r.kind for n, r in self._index.retrievers.items()}
        order = (RetrieverKind.SPARSE, RetrieverKind.TEXT)
        for kind in order if mode is VectorStoreQueryMode.SPARSE else order[::-1]:
            name = next((n for n, k in kinds.items() if k is kind), None)
            if name is not None:
                return name
        raise ConfigurationError(
            f"query mode {mode.value!r}: the index has no sparse or text retriever ({sorted(kinds)})"
        )

    def _weights(self, alpha: Optional[float]) -> Optional[dict[str, float]]:
        if alpha is None:
            return None
        if not 0 <= alpha <= 1:
            raise ConfigurationError(f"alpha must be in [0, 1], got {alpha!r}")
        return {n: alpha if r.kind is RetrieverKind.DENSE else 1 - alpha for n, r in self._index.retrievers.items()}

    @staticmethod
    def _text(query: VectorStoreQuery) -> str:
        if not query.query_str:
            raise ConfigurationError(f"query mode {query.mode!r} needs query_str")
        return query.query_str


def to_node(id_: str, text: str, metadata: dict[str, Any]) -> BaseNode:
    """The LlamaIndex node of a stored document: rebuilt from ``_node_content`` when a LlamaIndex
    store wrote it, else a ``TextNode`` with the document's id, text and metadata."""
    if "_node_content" in metadata:
        return metadata_dict_to_node(metadata, text=text)
    return TextNode(id_=id_, text=text, metadata=dict(metadata))
