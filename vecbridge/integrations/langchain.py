"""LangChain adapter (``pip install vecbridge[langchain]``): a ``VectorStore`` over ``HybridIndex``,
a ``BaseRetriever`` running hybrid search, and LangChain ``Embeddings`` as a vecbridge dense encoder.

- ``VecbridgeVectorStore``: ``add_texts`` / ``add_documents`` (ids kept, generated when absent,
  upserts by id), ``delete(ids)`` / ``delete(filter=...)`` / ``delete()`` (= delete all, as
  LangChain's ``VectorStore.delete`` documents), ``get_by_ids``, ``similarity_search[_with_score]``
  (dense by default; ``mode="hybrid"`` and the other ``HybridIndex.search`` options pass through),
  ``similarity_search_by_vector``, ``similarity_search_with_relevance_scores`` (``Hit.relevance``, in
  [0, 1]), ``max_marginal_relevance_search``, ``from_texts`` / ``from_documents``, ``as_retriever``;
  the async methods await an ``AsyncHybridIndex`` when the store has one (``async_index``), else
  they are LangChain's defaults (the sync ones in a worker thread; ``HybridIndex`` is thread-safe).
- ``VecbridgeHybridRetriever``: hybrid search (RRF over every retriever of the index) as a LangChain
  retriever; over an ``AsyncHybridIndex`` its async path awaits the index directly.
- ``LangChainEmbeddingsEncoder``: any LangChain ``Embeddings`` as the index's dense encoder; and the
  other way, ``VecbridgeEmbeddings``: a vecbridge dense encoder (``load_encoder(...)``) as LangChain
  ``Embeddings`` (what ``VecbridgeVectorStore.embeddings`` returns for such an index).
- Filters: LangChain style (``{"lang": "en"}``, ``{"year": {"$gte": 2020}}``, ``$in``, ``$and``, ...)
  or vecbridge's own tree; see ``vecbridge.integrations.langchain_filters``.

Metadata is stored as given and returned unchanged; only keys declared ``filterable`` when the
collection was created can be filtered on. ``similarity_search_with_score`` returns the store's raw
score (higher is better, except L2 distance).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Optional

import numpy as np
from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import Embeddings as LCEmbeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.config import run_in_executor
from langchain_core.vectorstores import VectorStore
from langchain_core.vectorstores.utils import maximal_marginal_relevance
from pydantic import ConfigDict, Field, ValidationError as PydanticValidationError

from vecbridge.async_index import AsyncHybridIndex
from vecbridge.encoders import OutputKind
from vecbridge.index import HybridIndex, RetrieverKind
from vecbridge.integrations.langchain_filters import translate_filter
from vecbridge.schemas import ConfigurationError, Document, Embeddings, Hit, InvalidInputError, WriteError
from vecbridge.schemas.errors import describe_validation_error, invalid_input, short_repr

__all__ = [
    "LangChainEmbeddingsEncoder",
    "VecbridgeEmbeddings",
    "VecbridgeHybridRetriever",
    "VecbridgeVectorStore",
    "from_langchain_document",
    "to_langchain_document",
    "translate_filter",
]

DIMENSION_PROBE = "dimension probe"
"""Text embedded once to learn the dimension when ``dense_dim`` is not given."""


class LangChainEmbeddingsEncoder:
    """A vecbridge dense ``Encoder`` (``vecbridge.encoders.base.Encoder`` protocol) over LangChain ``Embeddings``:
    documents through ``embed_documents``, queries through ``embed_query``.

    ``normalize``: whether the embeddings are unit-length (OpenAI's are; most others are not). With
    ``HybridIndex.create(metric=None)`` the index picks its metric from it (unit-length -> IP, else
    COSINE). ``dense_dim``: the vector size; when omitted one probe text is embedded to learn it.
    """

    outputs = frozenset({OutputKind.DENSE})
    sparse_vocab_size: Optional[int] = None
    scripts = None  # every script: LangChain models do not declare their languages

    def __init__(
        self,
        embeddings: LCEmbeddings,
        dense_dim: Optional[int] = None,
        normalize: bool = False,
        name: Optional[str] = None,
    ) -> None:
        if not isinstance(embeddings, LCEmbeddings):
            raise InvalidInputError(f"embeddings must be a langchain_core Embeddings, got {type(embeddings).__name__}")
        self.embeddings = embeddings
        self.name = name or f"langchain:{type(embeddings).__name__}"
        self.normalize = bool(normalize)
        self.dense_dim: Optional[int] = (
            dense_dim if dense_dim is not None else len(embeddings.embed_query(DIMENSION_PROBE))
        )
        if not isinstance(self.dense_dim, int) or self.dense_dim <= 0:
            raise InvalidInputError(f"dense_dim must be a positive int, got {short_repr(self.dense_dim)}")

    def encode_documents(self, texts: Sequence[str]) -> Embeddings:
        texts = self._texts(texts)
        return self._embeddings(self.embeddings.embed_documents(texts) if texts else [], len(texts))

    def encode_queries(self, texts: Sequence[str]) -> Embeddings:
        texts = self._texts(texts)
        return self._embeddings([self.embeddings.embed_query(t) for t in texts], len(texts))

    @staticmethod
    def _texts(texts: Sequence[str]) -> list[str]:
        if isinstance(texts, str):
            raise InvalidInputError("texts must be a list of strings, not one string")
        return list(texts)

    def _embeddings(self, vectors: Sequence[Sequence[float]], rows: int) -> Embeddings:
        if rows == 0:
            return Embeddings()
        array = np.asarray(vectors, dtype=np.float32)
        if array.shape != (rows, self.dense_dim):
            raise ConfigurationError(
                f"{self.name} returned vectors of shape {array.shape}; expected ({rows}, {self.dense_dim})"
            )
        try:
            return Embeddings(dense=array)
        except PydanticValidationError as exc:  # non-finite values
            raise ConfigurationError(describe_validation_error(exc, f"{self.name} returned bad vectors")) from None


class VecbridgeEmbeddings(LCEmbeddings):
    """LangChain ``Embeddings`` over a vecbridge encoder with a dense output (``encode_documents`` /
    ``encode_queries``), e.g. ``VecbridgeEmbeddings(load_encoder("all-MiniLM-L6-v2"))``."""

    def __init__(self, encoder: Any) -> None:
        if OutputKind.DENSE not in getattr(encoder, "outputs", ()):
            raise InvalidInputError(f"encoder {getattr(encoder, 'name', encoder)!r} has no dense output")
        self.encoder = encoder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encoder.encode_documents(list(texts)).dense.tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        return self.encoder.encode_queries([text]).dense[0].tolist()


# ---- documents, both ways ---------------------------------------------------------------------
def from_langchain_document(doc: LCDocument, id: Optional[str] = None) -> Document:
    """A vecbridge ``Document``: ``id`` if given, else ``doc.id``, else a new UUID4; metadata as is."""
    doc_id = id if id is not None else (doc.id or str(uuid.uuid4()))
    try:
        return Document(id=doc_id, text=doc.page_content, metadata=dict(doc.metadata or {}))
    except PydanticValidationError as exc:
        raise invalid_input(exc, f"document {short_repr(doc_id)}") from None


def to_langchain_document(item: Document | Hit) -> LCDocument:
    """A LangChain ``Document`` with the stored id, text and metadata (a copy)."""
    return LCDocument(id=item.id, page_content=item.text, metadata=dict(item.metadata))


# ---- the vector store --------------------------------------------------------------------------
class VecbridgeVectorStore(VectorStore):
    """LangChain ``VectorStore`` over a vecbridge ``HybridIndex`` (any connector: Milvus, Elasticsearch).

    ``mode``: the default search mode of ``similarity_search`` (``dense``; ``hybrid`` or ``sparse``
    need those retrievers on the index); a call may pass ``mode=`` and any other ``HybridIndex.search``
    option. Build one with ``VecbridgeVectorStore(index)``, ``VecbridgeVectorStore.create(connector,
    name, embedding, ...)`` or ``from_texts``.

    ``async_index``: an ``AsyncHybridIndex`` on the same collection (``create(..., async_connector=)``
    builds it); then ``aadd_documents``, ``adelete``, ``aget_by_ids``, ``asimilarity_search*`` await it
    on the caller's loop. Without it they are LangChain's defaults (the sync methods in a worker thread).
    """

    def __init__(
        self,
        index: HybridIndex,
        embedding: Optional[LCEmbeddings] = None,
        *,
        mode: str = "dense",
        async_index: Optional[AsyncHybridIndex] = None,
    ) -> None:
        if not isinstance(index, HybridIndex):
            raise InvalidInputError(f"index must be a vecbridge HybridIndex, got {type(index).__name__}")
        if async_index is not None and (
            not isinstance(async_index, AsyncHybridIndex) or async_index.spec != index.spec
        ):
            raise InvalidInputError("async_index must be an AsyncHybridIndex on the same collection spec as index")
        self.index = index
        self.async_index = async_index
        self.mode = mode
        dense = self._dense_encoder()
        if embedding is None and isinstance(dense, LangChainEmbeddingsEncoder):
            embedding = dense.embeddings
        elif embedding is None and dense is not None:
            embedding = VecbridgeEmbeddings(dense)
        self._embedding = embedding

    @classmethod
    def create(
        cls,
        connector: Any,
        collection_name: str,
        embedding: LCEmbeddings,
        *,
        sparse: Any = None,
        filterable: Optional[dict[str, Any]] = None,
        metric: Any = None,
        normalize: bool = False,
        dense_dim: Optional[int] = None,
        mode: str = "dense",
        async_connector: Any = None,
        **index_kwargs: Any,
    ) -> VecbridgeVectorStore:
        """A store on ``collection_name`` (created, or verified if it exists) whose dense retriever is
        ``embedding``; ``sparse`` adds a sparse encoder (``load_encoder("splade-tiny")``, BM25, ...)
        for hybrid search. ``metric=None`` lets the index choose it from ``normalize``.
        ``async_connector`` (an ``AsyncConnector`` on the same store) adds the ``async_index``."""
        dense = LangChainEmbeddingsEncoder(embedding, dense_dim=dense_dim, normalize=normalize)
        if metric is not None:
            index_kwargs["metric"] = metric
        index = HybridIndex.create(
            connector, collection_name, dense=dense, sparse=sparse, filterable=filterable, **index_kwargs
        )
        async_index = None
        if async_connector is not None:
            async_index = AsyncHybridIndex(
                async_connector,
                index.spec,
                list(index.retrievers.values()),
                reranker=index.reranker,
                batch_size=index.batch_size,
            )
        return cls(index, embedding, mode=mode, async_index=async_index)

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: LCEmbeddings,
        metadatas: Optional[list[dict[str, Any]]] = None,
        *,
        ids: Optional[list[str]] = None,
        connector: Any = None,
        uri: str = "./vecbridge_langchain.db",
        collection_name: str = "langchain",
        **kwargs: Any,
    ) -> VecbridgeVectorStore:
        """A store (``create``'s keywords) holding ``texts``. Without ``connector``: Milvus Lite at ``uri``."""
        if connector is None:
            from vecbridge.connectors.milvus import MilvusConnector

            connector = MilvusConnector(uri=uri)
        store = cls.create(connector, collection_name, embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @property
    def embeddings(self) -> Optional[LCEmbeddings]:
        return self._embedding

    # ---- writes ------------------------------------------------------------------------------
    def add_documents(self, documents: list[LCDocument], **kwargs: Any) -> list[str]:
        """Upsert ``documents`` (by id: ``ids=`` first, then ``Document.id``, else a new UUID4);
        returns the ids in order. Raises ``WriteError`` naming every id not written."""
        docs = self._documents(documents, kwargs)
        return self._written(docs, self.index.upsert(docs)) if docs else []

    async def aadd_documents(self, documents: list[LCDocument], **kwargs: Any) -> list[str]:
        if self.async_index is None:
            return await super().aadd_documents(documents, **kwargs)
        docs = self._documents(documents, kwargs)
        return self._written(docs, await self.async_index.upsert(docs)) if docs else []

    @staticmethod
    def _documents(documents: list[LCDocument], kwargs: dict[str, Any]) -> list[Document]:
        ids = kwargs.pop("ids", None)
        kwargs.pop("batch_size", None)  # LangChain's indexing API passes it; the index batches by itself
        if kwargs:
            raise InvalidInputError(f"add_documents got unknown arguments {sorted(kwargs)}")
        if ids is not None and len(ids) != len(documents):
            raise InvalidInputError(f"ids has {len(ids)} entries for {len(documents)} documents")
        return [from_langchain_document(doc, ids[i] if ids is not None else None) for i, doc in enumerate(documents)]

    @staticmethod
    def _written(docs: list[Document], report: Any) -> list[str]:
        if report.failed:
            raise WriteError(
                f"{len(report.failed)} of {len(docs)} documents were not written: {short_repr(report.failed)}",
                failed=dict(report.failed),
                written=report.written,
            )
        return [d.id for d in docs]

    def delete(self, ids: Optional[list[str]] = None, **kwargs: Any) -> Optional[bool]:
        """Delete by id, by ``filter=`` (LangChain or vecbridge filter), or everything (``ids=None``
        and no filter, as LangChain's ``VectorStore.delete`` specifies). Missing ids are ignored."""
        filter_ = self._delete_filter(kwargs)
        if ids is None and filter_ is None:
            self.index.delete_all()
        elif ids is None or len(ids) > 0:
            self.index.delete(ids=list(ids) if ids is not None else None, filter=filter_)
        return True

    async def adelete(self, ids: Optional[list[str]] = None, **kwargs: Any) -> Optional[bool]:
        if self.async_index is None:
            return await super().adelete(ids, **kwargs)
        filter_ = self._delete_filter(kwargs)
        if ids is None and filter_ is None:
            await self.async_index.delete_all()
        elif ids is None or len(ids) > 0:
            await self.async_index.delete(ids=list(ids) if ids is not None else None, filter=filter_)
        return True

    @staticmethod
    def _delete_filter(kwargs: dict[str, Any]) -> Any:
        filter_ = translate_filter(kwargs.pop("filter", None))
        if kwargs:
            raise InvalidInputError(f"delete got unknown arguments {sorted(kwargs)}")
        return filter_

    def get_by_ids(self, ids: Sequence[str], /) -> list[LCDocument]:
        """The stored documents among ``ids`` (missing ids are left out; order not guaranteed)."""
        if not ids:
            return []
        return [to_langchain_document(d) for d in self.index.get(list(dict.fromkeys(ids)))]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[LCDocument]:
        if self.async_index is None:
            return await super().aget_by_ids(ids)
        if not ids:
            return []
        return [to_langchain_document(d) for d in await self.async_index.get(list(dict.fromkeys(ids)))]

    # ---- search ------------------------------------------------------------------------------
    def _search_args(self, k: int, filter: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {**kwargs, "k": k, "mode": kwargs.get("mode", self.mode), "filter": translate_filter(filter)}

    def _hits(self, query: str, k: int, filter: Any, kwargs: dict[str, Any]) -> list[Hit]:
        return self.index.search(query, **self._search_args(k, filter, kwargs))

    async def _ahits(self, query: str, k: int, filter: Any, kwargs: dict[str, Any]) -> list[Hit]:
        if self.async_index is None:
            return await run_in_executor(None, self._hits, query, k, filter, kwargs)
        return await self.async_index.search(query, **self._search_args(k, filter, kwargs))

    def similarity_search(self, query: str, k: int = 4, filter: Any = None, **kwargs: Any) -> list[LCDocument]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter=filter, **kwargs)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[tuple[LCDocument, float]]:
        """Documents with the store's raw score (fused RRF score in hybrid mode)."""
        return [(to_langchain_document(h), h.score) for h in self._hits(query, k, filter, kwargs)]

    async def asimilarity_search(self, query: str, k: int = 4, filter: Any = None, **kwargs: Any) -> list[LCDocument]:
        return [doc for doc, _ in await self.asimilarity_search_with_score(query, k, filter=filter, **kwargs)]

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[tuple[LCDocument, float]]:
        return [(to_langchain_document(h), h.score) for h in await self._ahits(query, k, filter, kwargs)]

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[LCDocument, float]]:
        """Relevance in [0, 1] as the index computes it (``Hit.relevance``: dense search where the
        metric bounds it); raises ``ConfigurationError`` where it has none (fused hybrid hits)."""
        filter_ = kwargs.pop("filter", None)
        return [(to_langchain_document(h), self._relevance(h)) for h in self._hits(query, k, filter_, kwargs)]

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[LCDocument, float]]:
        filter_ = kwargs.pop("filter", None)
        return [(to_langchain_document(h), self._relevance(h)) for h in await self._ahits(query, k, filter_, kwargs)]

    @staticmethod
    def _relevance(hit: Hit) -> float:
        relevance = hit.relevance
        if relevance is None:
            raise ConfigurationError(
                f"hit {short_repr(hit.id)} (retrievers {hit.retrievers}) has no relevance score: the index gives "
                "one for a single dense retriever (mode='dense') whose metric bounds it (COSINE, L2, or IP with "
                "an encoder that normalizes); fused hits have none"
            )
        return relevance

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[LCDocument]:
        return [doc for doc, _ in self.similarity_search_with_score_by_vector(embedding, k, filter=filter, **kwargs)]

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[tuple[LCDocument, float]]:
        """Dense search with a query vector (``retriever=`` picks another dense retriever)."""
        hits = self.index.search_by_vector(list(embedding), k=k, filter=translate_filter(filter), **kwargs)
        return [(to_langchain_document(h), h.score) for h in hits]

    async def asimilarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[LCDocument]:
        if self.async_index is None:
            return await super().asimilarity_search_by_vector(embedding, k, filter=filter, **kwargs)
        hits = await self.async_index.search_by_vector(list(embedding), k=k, filter=translate_filter(filter), **kwargs)
        return [to_langchain_document(h) for h in hits]

    def max_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, filter: Any = None, **kwargs: Any
    ) -> list[LCDocument]:
        return self.max_marginal_relevance_search_by_vector(
            self._query_vector(query), k, fetch_k, lambda_mult, filter=filter, **kwargs
        )

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        **kwargs: Any,
    ) -> list[LCDocument]:
        """LangChain's MMR over the ``fetch_k`` nearest documents, with their stored vectors."""
        hits = self.index.search_by_vector(list(embedding), k=fetch_k, filter=translate_filter(filter), **kwargs)
        stored = self.index.get([h.id for h in hits], with_vectors=True) if hits else []
        return _mmr(embedding, hits, stored, k, lambda_mult)

    async def amax_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, filter: Any = None, **kwargs: Any
    ) -> list[LCDocument]:
        vector = await run_in_executor(None, self._query_vector, query)
        return await self.amax_marginal_relevance_search_by_vector(
            vector, k, fetch_k, lambda_mult, filter=filter, **kwargs
        )

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        **kwargs: Any,
    ) -> list[LCDocument]:
        """``max_marginal_relevance_search_by_vector``, awaiting the ``async_index`` when there is one."""
        if self.async_index is None:
            return await run_in_executor(
                None, self.max_marginal_relevance_search_by_vector, embedding, k, fetch_k, lambda_mult, filter, **kwargs
            )
        index = self.async_index
        hits = await index.search_by_vector(list(embedding), k=fetch_k, filter=translate_filter(filter), **kwargs)
        stored = await index.get([h.id for h in hits], with_vectors=True) if hits else []
        return _mmr(embedding, hits, stored, k, lambda_mult)

    def _query_vector(self, query: str) -> list[float]:
        encoder = self._dense_encoder()
        if encoder is None:
            raise ConfigurationError("this index has no dense retriever; search by vector needs one")
        return [float(x) for x in encoder.encode_queries([query]).dense[0]]

    def _dense_encoder(self) -> Any:
        dense = [r for r in self.index.retrievers.values() if r.kind is RetrieverKind.DENSE]
        return dense[0].encoder if dense else None

    def as_hybrid_retriever(self, **kwargs: Any) -> VecbridgeHybridRetriever:
        """A ``VecbridgeHybridRetriever`` on this store's index (``k``, ``filter``, ``search_kwargs``, ...)."""
        return VecbridgeHybridRetriever(index=self.index, **kwargs)


def _mmr(
    embedding: list[float], hits: list[Hit], stored: Sequence[Any], k: int, lambda_mult: float
) -> list[LCDocument]:
    """LangChain's maximal marginal relevance over ``hits`` with their ``stored`` vectors (hits
    without a stored dense vector, or gone meanwhile, are left out)."""
    vectors = {d.id: d.dense for d in stored if getattr(d, "dense", None) is not None}
    hits = [h for h in hits if h.id in vectors]
    if not hits:
        return []
    chosen = maximal_marginal_relevance(
        np.asarray(embedding, dtype=np.float32), [vectors[h.id] for h in hits], k=k, lambda_mult=lambda_mult
    )
    return [to_langchain_document(hits[i]) for i in chosen]


# ---- the hybrid retriever ----------------------------------------------------------------------
class VecbridgeHybridRetriever(BaseRetriever):
    """Hybrid search (by default RRF over every retriever of the index) as a LangChain retriever.

    ``index``: a ``HybridIndex``, or an ``AsyncHybridIndex`` (then only ``ainvoke`` works, awaiting
    the index on the caller's loop). ``search_kwargs`` go to ``index.search`` (``weights``, ``rrf_k``,
    ``window``, ``rerank_top_n``, ``method``, ...); ``invoke(query, k=..., filter=...)`` overrides
    ``k``/``filter`` per call. ``score_key``: if set, each document's metadata gets the hit's score
    under that key.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Any
    k: int = Field(default=4, gt=0)
    mode: str = "hybrid"
    filter: Any = None
    search_kwargs: dict[str, Any] = Field(default_factory=dict)
    score_key: Optional[str] = None

    def __init__(self, **data: Any) -> None:
        index = data.get("index")
        if not isinstance(index, (HybridIndex, AsyncHybridIndex)):
            raise InvalidInputError(f"index must be a HybridIndex or AsyncHybridIndex, got {type(index).__name__}")
        try:
            super().__init__(**data)
        except PydanticValidationError as exc:
            raise invalid_input(exc, "invalid VecbridgeHybridRetriever") from None

    def _search_args(self, overrides: dict[str, Any]) -> dict[str, Any]:
        unknown = set(overrides) - {"k", "filter", "mode"}
        if unknown:
            raise InvalidInputError(f"retriever got unknown arguments {sorted(unknown)}; use search_kwargs")
        args = {"k": self.k, "mode": self.mode, **self.search_kwargs}
        args.update({key: value for key, value in overrides.items() if key != "filter"})
        args["filter"] = translate_filter(overrides.get("filter", self.filter))
        return args

    def _documents(self, hits: Iterable[Hit]) -> list[LCDocument]:
        docs = []
        for hit in hits:
            doc = to_langchain_document(hit)
            if self.score_key:
                doc.metadata[self.score_key] = hit.score
            docs.append(doc)
        return docs

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[LCDocument]:
        if isinstance(self.index, AsyncHybridIndex):
            raise ConfigurationError("this retriever wraps an AsyncHybridIndex: use ainvoke()")
        return self._documents(self.index.search(query, **self._search_args(kwargs)))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[LCDocument]:
        if isinstance(self.index, AsyncHybridIndex):
            return self._documents(await self.index.search(query, **self._search_args(kwargs)))
        hits = await run_in_executor(None, self.index.search, query, **self._search_args(kwargs))
        return self._documents(hits)
