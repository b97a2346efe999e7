"""The unified query API: one index over encoders and a connector, with client-side fusion."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Optional

import numpy as np

from connectors import Connector
from encoders import Encoder, OutputKind
from encoders.reranker import Reranker
from schemas import (
    CollectionSpec,
    ConfigurationError,
    DenseIndex,
    Document,
    Embeddings,
    Filter,
    FusionMethod,
    FusionParams,
    Hit,
    IndexBatch,
    Metric,
    ScalarType,
    SearchMode,
    SearchRequest,
    parse_filter,
    validate_filter,
)
from vecbridge import fusion, languages
from vecbridge.ingest import IngestReport, write_batches

log = logging.getLogger(__name__)


class RetrieverKind(str, Enum):
    """What a retriever searches: an encoder's dense or sparse output, or the store's own full-text
    (BM25) search on the ``text`` field, which needs no encoder (``Connector.search_text``)."""

    DENSE = "dense"
    SPARSE = "sparse"
    TEXT = "text"


@dataclass(frozen=True)
class Retriever:
    """A named way to retrieve: one output of one encoder searched on one collection field, or
    (``kind=TEXT``, ``encoder=None``) the store's own text search."""

    name: str
    encoder: Optional[Encoder]
    kind: RetrieverKind  # an OutputKind DENSE / SPARSE is accepted and converted
    field: str  # "dense", a sparse field name of the spec, or "text"

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", RetrieverKind(getattr(self.kind, "value", self.kind)))
        except ValueError:
            raise ConfigurationError(
                f"retriever {self.name!r}: kind must be one of {[k.value for k in RetrieverKind]}, got {self.kind!r}"
            ) from None
        if self.kind is RetrieverKind.TEXT:
            if self.encoder is not None or self.field != "text":
                raise ConfigurationError(f"retriever {self.name!r}: a text retriever takes no encoder and field 'text'")
            return
        if self.encoder is None or OutputKind(self.kind.value) not in self.encoder.outputs:
            encoder = getattr(self.encoder, "name", None)
            raise ConfigurationError(f"retriever {self.name!r}: encoder {encoder!r} has no {self.kind.value} output")


class HybridIndex:
    """Dense / sparse / hybrid search over one collection of any ``Connector``.

    Fusion happens client-side (pinned RRF in ``vecbridge.fusion``), so rankings are the same on
    every backend; ``FusionParams(native=True)`` asks the backend's server-side RRF instead.
    Encoders shared by several retrievers (BGE-M3: dense + sparse) run once per batch.
    """

    def __init__(
        self,
        connector: Connector,
        spec: CollectionSpec,
        retrievers: Sequence[Retriever],
        reranker: Optional[Reranker] = None,
        batch_size: int = 256,
    ) -> None:
        if not retrievers:
            raise ConfigurationError("HybridIndex needs at least one retriever")
        names = [r.name for r in retrievers]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"retriever names must be unique: {names}")
        for r in retrievers:
            if r.kind is RetrieverKind.DENSE and (r.field != "dense" or spec.dense_dim is None):
                raise ConfigurationError(f"retriever {r.name!r}: collection {spec.name!r} has no dense field {r.field!r}")
            if r.kind is RetrieverKind.DENSE and r.encoder.dense_dim not in (None, spec.dense_dim):
                raise ConfigurationError(
                    f"retriever {r.name!r}: encoder dim {r.encoder.dense_dim} != collection dense_dim {spec.dense_dim}"
                )
            if r.kind is RetrieverKind.SPARSE and r.field not in spec.sparse_fields:
                raise ConfigurationError(
                    f"retriever {r.name!r}: field {r.field!r} not among sparse fields {list(spec.sparse_fields)}"
                )
        self.connector = connector
        self.spec = spec
        self.retrievers = {r.name: r for r in retrievers}
        self.reranker = reranker
        self.batch_size = batch_size
        connector.ensure_collection(spec)

    @classmethod
    def create(
        cls,
        connector: Connector,
        name: str,
        dense: Optional[Encoder] = None,
        sparse: Optional[Encoder] = None,
        filterable: Optional[dict[str, ScalarType | str]] = None,
        metric: Metric = Metric.IP,
        dense_index: DenseIndex = DenseIndex.FLAT,
        reranker: Optional[Reranker] = None,
        batch_size: int = 256,
        text: bool = False,
    ) -> "HybridIndex":
        """An index with retrievers ``dense`` and/or ``sparse`` (and ``text``: the store's own BM25,
        where it has one); the spec is derived from the encoders."""
        retrievers = [Retriever("text", None, RetrieverKind.TEXT, "text")] if text else []
        if dense is not None:
            retrievers.append(Retriever("dense", dense, OutputKind.DENSE, "dense"))
        if sparse is not None:
            retrievers.append(Retriever("sparse", sparse, OutputKind.SPARSE, "sparse"))
        spec = CollectionSpec(
            name=name,
            dense_dim=dense.dense_dim if dense is not None else None,
            metric=metric,
            dense_index=dense_index,
            sparse_fields=("sparse",) if sparse is not None else (),
            filterable={k: ScalarType(v) for k, v in (filterable or {}).items()},
        )
        return cls(connector, spec, retrievers, reranker=reranker, batch_size=batch_size)

    # ---- writes -----------------------------------------------------------------------
    def encode_documents(self, documents: Sequence[Document]) -> IndexBatch:
        """Run each distinct encoder once over the documents and align outputs to fields."""
        outputs = self._encode(documents=[d.text for d in documents], queries=False)
        dense = None
        sparse = {}
        for r in self.retrievers.values():
            if r.kind is RetrieverKind.DENSE:
                dense = outputs[id(r.encoder)].dense
            elif r.kind is RetrieverKind.SPARSE:
                sparse[r.field] = outputs[id(r.encoder)].sparse
        return IndexBatch(documents=list(documents), dense=dense, sparse=sparse)

    def upsert(
        self, documents: Iterable[Document], progress: bool = False, total: Optional[int] = None
    ) -> IngestReport:
        """Encode and write documents in batches (idempotent by id).

        A failing batch does not stop the others; the report lists every id not written.
        """
        return write_batches(
            documents, self.batch_size, self.encode_documents,
            lambda batch: self.connector.upsert(self.spec.name, batch), progress=progress, total=total,
        )

    add = upsert

    def delete(self, ids: Optional[Sequence[str]] = None, filter: Optional[Filter | dict] = None) -> int:
        return self.connector.delete(self.spec.name, ids=ids, filter=self._filter(filter))

    def get(self, ids: Sequence[str]) -> list[Document]:
        return self.connector.get(self.spec.name, ids)

    def count(self, filter: Optional[Filter | dict] = None) -> int:
        return self.connector.count(self.spec.name, filter=self._filter(filter))

    # ---- search -----------------------------------------------------------------------
    def search(
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
        """Search one query. ``options`` go to ``SearchRequest`` (``retrievers``, ``rerank_top_n``) or
        ``FusionParams`` (``method``, ``native``)."""
        return self.search_batch([query], k, mode, filter, rrf_k, weights, window, **options)[0]

    def search_batch(
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
        """Search many queries with the same parameters; queries are encoded in one batch per encoder."""
        fusion_keys = {"method", "native", "uncovered_factor"}
        params = FusionParams(
            rrf_k=rrf_k, weights=weights or {}, window=window, **{k_: v for k_, v in options.items() if k_ in fusion_keys}
        )
        rest = {k_: v for k_, v in options.items() if k_ not in fusion_keys}
        requests = [SearchRequest(query=q, k=k, mode=mode, filter=filter, fusion=params, **rest) for q in queries]
        return self.run(requests)

    def run(self, requests: Sequence[SearchRequest]) -> list[list[Hit]]:
        """Execute search requests; each distinct encoder they need encodes all queries in one call."""
        if not requests:
            return []
        plans = [self._language_weights(req) for req in requests]
        needed = {name for weights in plans for name in weights}
        encoders = {id(r.encoder): r.encoder for r in map(self.retrievers.get, needed) if r.encoder is not None}
        outputs = self._encode([req.query for req in requests], queries=True, encoders=encoders.values())
        results = []
        for row, (req, weights) in enumerate(zip(requests, plans)):
            filter_ = self._filter(req.filter)
            names = list(weights)
            vectors = {n: self._query_vector(self.retrievers[n], outputs, row, req.query) for n in names}
            hits = self._search_one(req, names, vectors, filter_, weights)
            if req.rerank_top_n:
                hits = self._rerank(req.query, hits, req.rerank_top_n)
            results.append(hits[: req.k])
        return results

    # ---- internals --------------------------------------------------------------------
    # -- language-aware fusion (the rule lives in vecbridge/languages.py) --
    def coverage(self) -> dict[str, Any]:
        """Retriever -> scripts its encoder covers (``None``: every script; the store's text search too)."""
        return {n: getattr(r.encoder, "scripts", None) for n, r in self.retrievers.items()}

    def _language_weights(self, req: SearchRequest) -> dict[str, float]:
        """The retrievers that run for ``req`` and their weights, after the language rule."""
        names = self._retriever_names(req)
        return languages.query_weights(req.query, {n: req.fusion.weight(n) for n in names}, self.coverage(),
                                       req.fusion.uncovered_factor)

    def _retriever_names(self, req: SearchRequest) -> list[str]:
        if req.retrievers is not None:
            unknown = [n for n in req.retrievers if n not in self.retrievers]
            if unknown:
                raise ConfigurationError(f"unknown retrievers {unknown}; this index has {sorted(self.retrievers)}")
            names = list(req.retrievers)
        elif req.mode is SearchMode.HYBRID:
            names = list(self.retrievers)
        else:
            kind = RetrieverKind.DENSE if req.mode is SearchMode.DENSE else RetrieverKind.SPARSE
            names = [n for n, r in self.retrievers.items() if r.kind is kind][:1]
            if not names:
                raise ConfigurationError(f"mode {req.mode.value!r} needs a {kind.value} retriever; this index has {sorted(self.retrievers)}")
        names = [n for n in names if req.fusion.weight(n) > 0]
        if not names:
            raise ConfigurationError("every selected retriever has weight 0")
        return names

    def _encode(
        self, documents: Sequence[str], queries: bool, encoders: Optional[Iterable[Encoder]] = None
    ) -> dict[int, Embeddings]:
        if encoders is None:
            encoders = {id(r.encoder): r.encoder for r in self.retrievers.values() if r.encoder is not None}.values()
        out = {}
        for encoder in encoders:
            call = encoder.encode_queries if queries else encoder.encode_documents
            out[id(encoder)] = call(list(documents))
        return out

    @staticmethod
    def _query_vector(r: Retriever, outputs: dict[int, Embeddings], row: int, query: str) -> Any:
        if r.kind is RetrieverKind.TEXT:
            return query
        emb = outputs[id(r.encoder)]
        return emb.dense[row] if r.kind is RetrieverKind.DENSE else emb.sparse[row]  # type: ignore[index]

    def _filter(self, value: Optional[Filter | dict]) -> Optional[Filter]:
        return None if value is None else validate_filter(parse_filter(value), self.spec)

    def _retrieve(self, name: str, vector: Any, k: int, filter_: Optional[Filter]) -> list[Hit]:
        r = self.retrievers[name]
        if r.kind is RetrieverKind.DENSE:
            return self.connector.search_dense(self.spec.name, vector, k, filter_)
        if r.kind is RetrieverKind.TEXT:
            return self.connector.search_text(self.spec.name, vector, k, filter_)
        return self.connector.search_sparse(self.spec.name, vector, k, filter_, field=r.field)

    def _search_one(
        self, req: SearchRequest, names: list[str], vectors: dict[str, Any], filter_: Optional[Filter],
        weights: dict[str, float],
    ) -> list[Hit]:
        depth = max(req.k, req.rerank_top_n or 0)
        if len(names) == 1:
            (name,) = names
            hits = self._retrieve(name, vectors[name], depth, filter_)
            for rank, hit in enumerate(hits, 1):  # fresh objects from the connector: annotate in place
                hit.ranks, hit.scores, hit.retrievers = {name: rank}, {name: hit.score}, [name]
            return hits
        params = req.fusion
        window = max(params.window_for(req.k), depth)
        if params.native:
            hits = self._native(names, vectors, depth, filter_, params, window, weights)
            for hit in hits:
                hit.retrievers = list(names)
            return hits
        lists = {n: self._retrieve(n, vectors[n], window, filter_) for n in names}
        if params.method is FusionMethod.RRF:
            return fusion.rrf(lists, depth, k=params.rrf_k, weights=weights)
        lower_better = self.spec.metric is Metric.L2
        direction = {n: not (lower_better and self.retrievers[n].kind is RetrieverKind.DENSE) for n in names}
        return fusion.linear(lists, depth, weights=weights, higher_is_better=direction)

    def _native(
        self, names: list[str], vectors: dict[str, Any], depth: int, filter_: Optional[Filter],
        params: FusionParams, window: int, weights: dict[str, float],
    ) -> list[Hit]:
        if params.method is not FusionMethod.RRF or any(weights[n] != 1.0 for n in names):
            raise ConfigurationError("native fusion supports unweighted RRF only; use client-side fusion")
        if any(self.retrievers[n].kind is RetrieverKind.TEXT for n in names):
            raise ConfigurationError("native fusion covers dense and sparse retrievers; fuse 'text' client-side")
        dense = next((vectors[n] for n in names if self.retrievers[n].kind is RetrieverKind.DENSE), None)
        sparse = {self.retrievers[n].field: vectors[n] for n in names if self.retrievers[n].kind is RetrieverKind.SPARSE}
        return self.connector.search_hybrid_native(
            self.spec.name, dense, sparse, depth, filter_, rrf_k=params.rrf_k, window=window
        )

    def _rerank(self, query: str, hits: list[Hit], top_n: int) -> list[Hit]:
        if self.reranker is None:
            raise ConfigurationError("rerank_top_n was given but this index has no reranker")
        head, tail = hits[:top_n], hits[top_n:]
        if not head:
            return hits
        scores = np.asarray(self.reranker.score(query, [h.text for h in head]), dtype=np.float64)
        order = sorted(range(len(head)), key=lambda i: (-scores[i], head[i].id))
        reranked = []
        for rank, i in enumerate(order, 1):
            hit = head[i]
            reranked.append(hit.model_copy(update={
                "score": float(scores[i]),
                "ranks": {**hit.ranks, "first_stage": i + 1, "rerank": rank},
                "scores": {**hit.scores, "first_stage": hit.score, "rerank": float(scores[i])},
            }))
        return reranked + tail
