"""The unified query API: one index over encoders and a connector, with client-side fusion."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from itertools import groupby
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
from pydantic import ValidationError

from vecbridge import explain, fusion, languages, store_batches
from vecbridge.connectors import Connector
from vecbridge.connectors.base import supports_search_without_content
from vecbridge.corpus_stats import corpus_stats_of
from vecbridge.encoders import Encoder, OutputKind
from vecbridge.encoders.batching import Coalescer
from vecbridge.encoders.coverage import Coverage, encoder_coverage, runs_uncovered
from vecbridge.encoders.reranker import Reranker
from vecbridge.ingest import IngestReport, OnError, ingest
from vecbridge.schemas import (
    CollectionSpec,
    ConfigurationError,
    ConnectorError,
    DenseIndex,
    Document,
    Embeddings,
    Filter,
    FusionMethod,
    FusionParams,
    Hit,
    IndexBatch,
    Metric,
    RetrieverExplain,
    ScalarType,
    ScoredIds,
    SearchMode,
    SearchRequest,
    SparseVector,
    ids_and_scores,
    parse_filter,
    validate_filter,
)
from vecbridge.schemas.arguments import check_ids, check_int
from vecbridge.schemas.errors import InvalidInputError, invalid_input, short_repr

if TYPE_CHECKING:
    from vecbridge.ingest.sync import SyncReport
    from vecbridge.reindex import ReindexReport
    from vecbridge.tenants import TenantView

log = logging.getLogger(__name__)
DEFAULT_TEXT_ANALYZER = "standard"


TIE_FETCH_LIMIT = 10_000
"""Most candidates fetched from one retriever to resolve a tie at the cut-off (Elasticsearch's window)."""


def first_fetch(k: int) -> int:
    """Candidates asked first for a top ``k``: one extra shows whether a tie crosses the cut-off."""
    return k + 1 if k < TIE_FETCH_LIMIT else k


def next_fetch(hits: list[Hit], k: int, fetch: int) -> Optional[int]:
    """``None`` when ``hits`` (``fetch`` asked) settle the top ``k``; else the next, larger fetch."""
    if len(hits) <= k or hits[k - 1].score != hits[-1].score or len(hits) < fetch or fetch >= TIE_FETCH_LIMIT:
        return None
    return min(2 * fetch, TIE_FETCH_LIMIT)


def settled_top(fetch: Callable[[int], Sequence[Hit]], k: int, first: Optional[Sequence[Hit]] = None) -> Sequence[Hit]:
    """Top ``k`` of ``fetch(n)`` (a store's best-first top ``n``), exactly tied scores ordered by id.

    Stores order tied hits arbitrarily, and which of them make the cut-off too. One extra candidate
    shows whether a tie crosses the cut-off; if so, the fetch doubles until the tie is whole (up to
    ``TIE_FETCH_LIMIT``), so the same query always returns the same ids in the same order.
    ``first``: the answer to ``fetch(first_fetch(k))`` where it was already asked (a batched call).
    """
    size: Optional[int] = first_fetch(k)
    while True:
        hits = fetch(size) if first is None else first  # type: ignore[arg-type]
        first = None
        size = next_fetch(hits, k, size)  # type: ignore[arg-type]
        if size is None:
            return order_ties(hits)[:k]


MAX_K = 16384
"""Largest ``k`` of a search (Milvus' top-k limit; Elasticsearch's is 10,000)."""
UNIT_NORM_TOL = 1e-3
"""|‖v‖ - 1| below which a query vector counts as normalized (IP relevance needs unit vectors)."""


def encoder_normalizes(encoder: Optional[Encoder]) -> Optional[bool]:
    """Whether ``encoder``'s dense output is L2-normalized: its ``normalize`` attribute (``DenseEncoder``
    reads it from the model's ``modules.json``; BGE-M3 always normalizes); None: not declared."""
    value = getattr(encoder, "normalize", None)
    return value if isinstance(value, bool) else None


def default_metric(metric: Optional[Metric | str], dense: Optional[Encoder]) -> Metric:
    """``metric`` if given; else IP for an encoder with normalized output (IP = cosine there, and
    cheaper), COSINE otherwise (unnormalized or undeclared: IP would rank by vector length)."""
    if metric is not None:
        try:
            return Metric(getattr(metric, "value", metric))
        except ValueError:
            raise InvalidInputError(
                f"metric={short_repr(metric)}: must be one of {[m.value for m in Metric]}"
            ) from None
    if dense is None:
        return Metric.IP
    return Metric.IP if encoder_normalizes(dense) is True else Metric.COSINE


def dense_relevance(metric: Metric, score: float, unit_vectors: bool) -> Optional[float]:
    """A dense hit's raw score mapped to [0, 1] (1 best): COSINE, and IP when both vectors are unit
    length, ``(1 + s) / 2`` clipped; L2 (score = squared distance, as both backends report it)
    ``1 / (1 + d)`` with ``d`` the Euclidean distance; None where the metric gives no bound."""
    if metric is Metric.L2:
        return 1.0 / (1.0 + math.sqrt(max(score, 0.0)))
    if metric is Metric.IP and not unit_vectors:
        return None
    return min(1.0, max(0.0, (1.0 + score) / 2.0))


def check_k(k: Any, name: str = "k") -> int:
    return check_int(k, name, low=1, high=MAX_K)


def _given(document: Document, field: str) -> Any:
    """The vector ``document`` brings for ``field`` (``dense`` or a sparse field name), or None."""
    if field == "dense":
        return getattr(document, "dense", None)
    return (getattr(document, "sparse", None) or {}).get(field)


def attach_content(hits: list[Hit], documents: Sequence[Document]) -> list[Hit]:
    """``hits`` (fused from id-and-score lists) with the text and metadata of ``documents`` (the
    store's ``get`` of their ids), set in place. A hit whose document is gone (deleted between the
    search and the ``get``) is dropped, as a search run a moment later would not return it."""
    found = {doc.id: doc for doc in documents}
    kept = []
    for hit in hits:
        doc = found.get(hit.id)
        if doc is not None:
            hit.text, hit.metadata = doc.text, dict(doc.metadata)
            kept.append(hit)
    return kept


def content_ids(ranked: Sequence[tuple[list[Hit], bool]]) -> list[str]:
    """The ids whose text and metadata a batch still reads (``(hits, content missing)`` per
    request), each once, in order: one ``get`` serves them all."""
    return list(dict.fromkeys(h.id for hits, later in ranked if later for h in hits))


def with_content(ranked: Sequence[tuple[list[Hit], bool]], documents: Sequence[Document]) -> list[list[Hit]]:
    """Each request's hits, the ones still missing their content given it from ``documents``."""
    return [attach_content(hits, documents) if later else hits for hits, later in ranked]


def order_ties(hits: Sequence[Hit]) -> Sequence[Hit]:
    """``hits`` (best first, as a store returns them) with each run of exactly equal scores sorted by id
    (a ``ScoredIds`` stays one)."""
    ids, scores = ids_and_scores(hits)
    if len(set(scores)) == len(scores):  # no ties: the common case, nothing to reorder
        return hits
    order: list[int] = []
    for _, run in groupby(range(len(scores)), key=scores.__getitem__):
        order.extend(sorted(run, key=ids.__getitem__))
    if isinstance(hits, ScoredIds):
        return ScoredIds([ids[i] for i in order], [scores[i] for i in order])
    return [hits[i] for i in order]


class RetrieverKind(str, Enum):
    """What a retriever searches: an encoder's dense or sparse output, or the store's own full-text
    (BM25) search on the ``text`` field, which needs no encoder (``Connector.search_text``)."""

    DENSE = "dense"
    SPARSE = "sparse"
    TEXT = "text"


@dataclass(frozen=True)
class Retriever:
    """A named way to retrieve: one output of one encoder searched on one collection field, or
    (``kind=TEXT``, ``encoder=None``) the store's own text search. A dense or sparse retriever with
    ``encoder=None`` is vector-only: its vectors come with the documents (``VectorDocument``) and
    queries with ``search_by_vector``."""

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
        if self.encoder is not None and OutputKind(self.kind.value) not in self.encoder.outputs:
            encoder = getattr(self.encoder, "name", None)
            raise ConfigurationError(f"retriever {self.name!r}: encoder {encoder!r} has no {self.kind.value} output")

    @property
    def takes_text(self) -> bool:
        """Whether a query text can run this retriever (``False``: a vector-only retriever, searched
        with ``search_by_vector`` and filled by documents that bring their vectors)."""
        return self.kind is RetrieverKind.TEXT or self.encoder is not None


class IndexCore:
    """What ``HybridIndex`` and ``AsyncHybridIndex`` share: validation, encoding, request building,
    retriever selection, fusion and reranking. No store I/O happens here except through
    ``_retrieve_from_store`` / ``_native``, which return what the connector returns (a list, or an
    awaitable for an ``AsyncConnector``).

    Fused searches on a connector that can search without content (``SEARCH_WITHOUT_CONTENT``) ask
    each retriever for ids and scores only and read text and metadata once, for the fused top hits
    (``late_content``): the fusion window's documents never travel. Rankings are unchanged.

    ``batch_queries`` (default True): searches running at once (threads, or coroutines of the async
    index) are served together as one batch: one encoder call per encoder, one multi-query store call
    per retriever where the connector has one (``store_batches``), one ``get`` for the late content.
    A lone search runs at once; each search gets the hits it would get alone (docs/concurrency.md).
    False: every search runs on its own.
    """

    def __init__(
        self,
        connector: Any,
        spec: CollectionSpec,
        retrievers: Sequence[Retriever],
        reranker: Optional[Reranker] = None,
        batch_size: int = 256,
        batch_queries: bool = True,
    ) -> None:
        if not retrievers:
            raise ConfigurationError(f"{type(self).__name__} needs at least one retriever")
        names = [r.name for r in retrievers]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"retriever names must be unique: {names}")
        for r in retrievers:
            if r.kind is RetrieverKind.DENSE and (r.field != "dense" or spec.dense_dim is None):
                raise ConfigurationError(
                    f"retriever {r.name!r}: collection {spec.name!r} has no dense field {r.field!r}"
                )
            if r.kind is RetrieverKind.DENSE and getattr(r.encoder, "dense_dim", None) not in (None, spec.dense_dim):
                raise ConfigurationError(
                    f"retriever {r.name!r}: encoder dim {getattr(r.encoder, 'dense_dim', None)} "
                    f"!= collection dense_dim {spec.dense_dim}"
                )
            if r.kind is RetrieverKind.SPARSE and r.field not in spec.sparse_fields:
                raise ConfigurationError(
                    f"retriever {r.name!r}: field {r.field!r} not among sparse fields {list(spec.sparse_fields)}"
                )
        self.connector = connector
        self.spec = spec
        self.retrievers = {r.name: r for r in retrievers}
        # agreement guard defaults (``Settings.fusion_agreement_top_n`` / ``fusion_disagreement_factor``)
        self.agreement_top_n: int = fusion.AGREEMENT_TOP_N
        self.disagreement_factor: float = fusion.DISAGREEMENT_FACTOR
        self.reranker = reranker
        self.batch_size = batch_size
        self.late_content = supports_search_without_content(connector)
        if not isinstance(batch_queries, bool):
            raise ConfigurationError(f"batch_queries must be True or False, got {batch_queries!r}")
        self.batch_queries = batch_queries

    @staticmethod
    def _spec_and_retrievers(
        name: str,
        dense: Optional[Encoder],
        sparse: Optional[Encoder],
        filterable: Optional[dict[str, ScalarType | str]],
        metric: Optional[Metric | str],
        dense_index: DenseIndex,
        text: bool,
        text_analyzer: Optional[str],
        tenant_key: Optional[str] = None,
        hnsw: Optional[dict[str, Optional[int]]] = None,
    ) -> tuple[CollectionSpec, list[Retriever]]:
        """The spec derived from the encoders, and the retrievers of ``create``."""
        retrievers = [Retriever("text", None, RetrieverKind.TEXT, "text")] if text else []
        if dense is not None:
            retrievers.append(Retriever("dense", dense, RetrieverKind.DENSE, "dense"))
        if sparse is not None:
            retrievers.append(Retriever("sparse", sparse, RetrieverKind.SPARSE, "sparse"))
        if tenant_key is not None:  # the tenant key is a filterable string key
            if not isinstance(tenant_key, str):
                raise InvalidInputError(f"tenant_key={short_repr(tenant_key)}: must be a metadata key name")
            kind = (filterable or {}).get(tenant_key, "string")
            declared = getattr(kind, "value", kind)
            if declared != "string":
                raise InvalidInputError(
                    f"tenant_key {tenant_key!r} is declared filterable as {declared!r}; it must be 'string'"
                )
            filterable = {**(filterable or {}), tenant_key: "string"}
        types = [t.value for t in ScalarType]
        for key, kind in (filterable or {}).items():
            if getattr(kind, "value", kind) not in types:
                raise ConfigurationError(
                    f"filterable[{short_repr(key)}]={short_repr(kind)}: type must be one of {types}"
                )
        try:
            spec = CollectionSpec(
                name=name,
                dense_dim=dense.dense_dim if dense is not None else None,
                metric=default_metric(metric, dense),
                dense_index=dense_index,
                sparse_fields=("sparse",) if sparse is not None else (),
                filterable={k: ScalarType(v) for k, v in (filterable or {}).items()},
                text_analyzer=(text_analyzer or DEFAULT_TEXT_ANALYZER) if text else None,
                tenant_key=tenant_key,
                **{k_: v for k_, v in (hnsw or {}).items() if v is not None},
            )
        except ValidationError as exc:
            raise invalid_input(exc, "invalid collection") from None
        return spec, retrievers

    def encode_documents(self, documents: Sequence[Document], encode_missing: bool = True) -> IndexBatch:
        """The ``IndexBatch`` of ``documents``: the vectors a ``VectorDocument`` brings, exactly as
        given, and the rest from the retrievers' encoders, each distinct encoder run once over only
        the rows that lack one of its outputs. A row left without a dense vector (no encoder, or
        ``encode_missing=False``) is stored without one; without a sparse one, with an empty one.
        Given vectors are checked (``check_vectors``)."""
        documents = list(documents)
        for doc in documents:
            self.check_vectors(doc)
        fields = ["dense"] if self.spec.dense_dim is not None else []
        fields += list(self.spec.sparse_fields)
        given = {f: [_given(doc, f) for doc in documents] for f in fields}
        encoders: dict[str, Encoder] = {}
        if encode_missing:
            for r in self.retrievers.values():
                if r.encoder is not None and r.kind is not RetrieverKind.TEXT:
                    encoders.setdefault(r.field, r.encoder)
        encoded = self._encode_missing(documents, {f: e for f, e in encoders.items() if f in given}, given)
        for field, rows in encoded.items():
            for i, vector in rows.items():
                given[field][i] = vector
        dense = present = None
        if self.spec.dense_dim is not None:
            dense = np.zeros((len(documents), self.spec.dense_dim), dtype=np.float32)
            present = [row is not None for row in given["dense"]]
            for i, row in enumerate(given["dense"]):
                if row is not None:
                    dense[i] = row
        empty = SparseVector(indices=[], values=[])
        sparse = {f: [empty if v is None else v for v in given[f]] for f in self.spec.sparse_fields}
        all_present = present is None or all(present)
        plain = [
            d if type(d) is Document else Document.model_construct(id=d.id, text=d.text, metadata=d.metadata)
            for d in documents
        ]  # the vectors travel in the batch's arrays
        return IndexBatch(documents=plain, dense=dense, sparse=sparse, dense_present=None if all_present else present)

    def _encode_missing(
        self, documents: list[Document], encoders: dict[str, Encoder], given: dict[str, list[Any]]
    ) -> dict[str, dict[int, Any]]:
        """``{field: {row: vector}}`` for the rows without a given vector in a field an encoder fills;
        each distinct encoder runs once, over the union of the rows any of its fields needs."""
        rows_of: dict[int, set[int]] = {}
        for field, encoder in encoders.items():
            rows_of.setdefault(id(encoder), set()).update(i for i, v in enumerate(given[field]) if v is None)
        outputs: dict[int, tuple[list[int], Embeddings]] = {}
        for encoder in encoders.values():
            rows = sorted(rows_of[id(encoder)])
            if rows and id(encoder) not in outputs:
                outputs[id(encoder)] = (rows, encoder.encode_documents([documents[i].text for i in rows]))
        out: dict[str, dict[int, Any]] = {}
        for field, encoder in encoders.items():
            if id(encoder) not in outputs:
                continue
            rows, emb = outputs[id(encoder)]
            vectors = emb.dense if field == "dense" else emb.sparse
            out[field] = {i: vectors[n] for n, i in enumerate(rows) if given[field][i] is None}  # type: ignore[index]
        return out

    def check_vectors(self, document: Document) -> None:
        """``InvalidInputError`` naming the document, the field and the value when ``document``
        brings a vector the collection cannot store: a dense one without a dense field or of another
        dimension, a sparse one for a field the collection does not have."""
        dense = getattr(document, "dense", None)
        if dense is not None:
            if self.spec.dense_dim is None:
                raise InvalidInputError(
                    f"document {short_repr(document.id)}: dense: collection {self.spec.name!r} has no dense field"
                )
            if len(dense) != self.spec.dense_dim:
                raise InvalidInputError(
                    f"document {short_repr(document.id)}: dense has {len(dense)} values; collection "
                    f"{self.spec.name!r} has dense_dim {self.spec.dense_dim}"
                )
        for field in getattr(document, "sparse", None) or {}:
            if field not in self.spec.sparse_fields:
                raise InvalidInputError(
                    f"document {short_repr(document.id)}: sparse[{short_repr(field)}]: collection "
                    f"{self.spec.name!r} has sparse fields {list(self.spec.sparse_fields)}"
                )

    @staticmethod
    def _requests(
        queries: Sequence[str],
        k: int,
        mode: SearchMode | str,
        filter: Optional[Filter | dict],
        rrf_k: float,
        weights: Optional[dict[str, float]],
        window: Optional[int],
        options: dict[str, Any],
    ) -> list[SearchRequest]:
        """``search_batch``'s arguments as validated requests (``ConfigurationError`` naming the field)."""
        fusion_keys = {"method", "native", "uncovered_factor", "agreement_top_n", "disagreement_factor"}
        if isinstance(queries, str):
            raise InvalidInputError("queries must be a list of strings, not one string (use search())")
        try:
            params = FusionParams(
                rrf_k=rrf_k,
                weights=weights or {},
                window=window,
                **{k_: v for k_, v in options.items() if k_ in fusion_keys},
            )
            rest = {k_: v for k_, v in options.items() if k_ not in fusion_keys}
            return [SearchRequest(query=q, k=k, mode=mode, filter=filter, fusion=params, **rest) for q in queries]
        except ValidationError as exc:
            raise invalid_input(exc, "invalid search") from None

    # -- language-aware fusion (the rule lives in vecbridge/languages.py) --
    def coverage(self) -> dict[str, Any]:
        """Retriever -> scripts its encoder covers (``None``: every script; the store's text search too)."""
        return {n: getattr(r.encoder, "scripts", None) for n, r in self.retrievers.items()}

    def fallback(self) -> frozenset[str]:
        """The retrievers that still run for a query none of the selected ones covers (rule step 5)."""
        return frozenset(n for n, r in self.retrievers.items() if runs_uncovered(r.encoder))

    def coverage_sources(self) -> dict[str, Coverage]:
        """Retriever -> its coverage with where it came from (``vecbridge.encoders.coverage``)."""
        return {n: encoder_coverage(r.encoder) for n, r in self.retrievers.items()}

    def _guard(self, req: SearchRequest) -> tuple[int, float]:
        """The agreement guard's ``(top_n, factor)`` for ``req``: the request's, else the index's."""
        top_n = req.fusion.agreement_top_n or self.agreement_top_n
        factor = req.fusion.disagreement_factor
        return top_n, self.disagreement_factor if factor is None else factor

    def _explain_all(
        self, originals: Sequence[SearchRequest], planned: Sequence[SearchRequest], results: list[list[Hit]]
    ) -> list[list[Hit]]:
        """``results`` with ``explain`` on the hits of the requests that asked for it."""
        return [
            self._explained(o, p, hits) if o.explain else hits
            for o, p, hits in zip(originals, planned, results, strict=True)
        ]

    def _explained(self, original: SearchRequest, planned: SearchRequest, hits: list[Hit]) -> list[Hit]:
        """``hits`` with ``explain`` for every retriever ``original`` selected (``vecbridge/explain.py``);
        fused hits already carry the weights and the guard's overlaps ``_fuse`` recorded."""
        selected = self._retriever_names(original)
        configured = {n: original.fusion.weight(n) for n in selected}
        sources = self.coverage_sources()
        ran = self._retriever_names(planned)
        out = []
        for hit in hits:
            weights = hit.weights or {n: planned.fusion.weight(n) for n in ran}
            overlaps = {n: e.overlap for n, e in (hit.explain or {}).items() if e.overlap is not None} or None
            top_n = self._guard(planned)[0] if overlaps else None
            out.append(
                hit.model_copy(
                    update={
                        "explain": explain.explain_hit(
                            hit, original.query, selected, configured, sources, weights, overlaps, top_n
                        )
                    }
                )
            )
        return out

    def _plan(self, req: SearchRequest) -> SearchRequest:
        """``req`` with the language rule applied: only the retrievers that run for its query, with
        the weights the rule gives them (the rest of the search path reads them from the request)."""
        names = self._retriever_names(req)
        weights = languages.query_weights(
            req.query,
            {n: req.fusion.weight(n) for n in names},
            self.coverage(),
            req.fusion.uncovered_factor,
            self.fallback(),
        )
        if list(weights) == names and all(weights[n] == req.fusion.weight(n) for n in names):
            return req
        fusion_ = req.fusion.model_copy(update={"weights": {**req.fusion.weights, **weights}})
        return req.model_copy(update={"retrievers": list(weights), "fusion": fusion_})

    def _encode_queries(self, requests: Sequence[SearchRequest]) -> dict[int, Embeddings]:
        """Each distinct encoder the requests need, run once over all their queries."""
        needed = {name for req in requests for name in self._retriever_names(req)}
        chosen = [self.retrievers[name] for name in needed]
        encoders = {id(r.encoder): r.encoder for r in chosen if r.encoder is not None}
        return self._encode([req.query for req in requests], queries=True, encoders=encoders.values())

    def _prepare(
        self, req: SearchRequest, outputs: dict[int, Embeddings], row: int
    ) -> tuple[Optional[Filter], list[str], dict[str, Any]]:
        """The validated filter, the retrievers and their query vectors of request ``row``."""
        filter_ = self._filter(req.filter)
        names = self._retriever_names(req)
        vectors = {n: self._query_vector(self.retrievers[n], outputs, row, req.query) for n in names}
        return filter_, names, vectors

    def _retriever_names(self, req: SearchRequest) -> list[str]:
        if req.retrievers is not None:
            unknown = [n for n in req.retrievers if n not in self.retrievers]
            if unknown:
                raise ConfigurationError(f"unknown retrievers {unknown}; this index has {sorted(self.retrievers)}")
            names = list(req.retrievers)
            vector_only = [n for n in names if not self.retrievers[n].takes_text]
            if vector_only:
                raise ConfigurationError(
                    f"retrievers {vector_only} have no encoder for query texts; search them with search_by_vector"
                )
        elif req.mode is SearchMode.HYBRID:
            names = [n for n, r in self.retrievers.items() if r.takes_text]
        else:
            kind = RetrieverKind.DENSE if req.mode is SearchMode.DENSE else RetrieverKind.SPARSE
            names = [n for n, r in self.retrievers.items() if r.kind is kind and r.takes_text][:1]
            if not names:
                raise ConfigurationError(
                    f"mode {req.mode.value!r} needs a {kind.value} retriever; this index has {sorted(self.retrievers)}"
                )
        if not names:
            raise ConfigurationError(f"no retriever of {sorted(self.retrievers)} runs: none takes query texts")
        weighted = [n for n in names if req.fusion.weight(n) > 0]
        if not weighted:
            raise InvalidInputError(f"weights: every retriever selected ({names}) has weight 0, so none runs")
        return weighted

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

    def _retrieve_from_store(
        self,
        name: str,
        vector: Any,
        k: int,
        filter_: Optional[Filter],
        ef: Optional[int] = None,
        content: bool = True,
    ) -> Any:
        """The connector's search for retriever ``name``: hits, or an awaitable of hits (async).
        ``ef`` (HNSW search breadth) goes to dense searches only, and only when given;
        ``content=False`` (only asked of connectors that support it): ids and scores only."""
        r = self.retrievers[name]
        extra: dict[str, Any] = {} if content else {"content": False}
        if r.kind is RetrieverKind.DENSE:
            extra = {**extra, "ef": ef} if ef is not None else extra
            return self.connector.search_dense(self.spec.name, vector, k, filter_, **extra)
        if r.kind is RetrieverKind.TEXT:
            return self.connector.search_text(self.spec.name, vector, k, filter_, **extra)
        return self.connector.search_sparse(self.spec.name, vector, k, filter_, field=r.field, **extra)

    def _shared_calls(
        self, requests: Sequence[SearchRequest], prepared: Sequence[tuple[Optional[Filter], list[str], dict[str, Any]]]
    ) -> list[store_batches.SharedCall]:
        """The multi-query store calls of a batch: each retriever's first call (``settled_top``)
        that several requests make alike, where the connector has a multi-query search."""
        calls, filters = [], {}
        for row, (req, (filter_, names, _)) in enumerate(zip(requests, prepared, strict=True)):
            if req.fusion.native:
                continue
            depth, window = self._depths(req)
            size, content = (depth, True) if len(names) == 1 else (window, not self.late_content)
            for name in names:
                kind = self.retrievers[name].kind.value
                if store_batches.supports_many(self.connector, kind):
                    key = store_batches.filter_key(filter_)
                    filters[key] = filter_
                    ef = req.ef if kind == "dense" else None
                    calls.append((row, store_batches.StoreCall(name, kind, first_fetch(size), key, ef, content)))
        return [
            store_batches.SharedCall(
                self.connector,
                self.spec.name,
                call,
                rows,
                [prepared[row][2][call.retriever] for row in rows],
                filters[call.filter],
                self.retrievers[call.retriever].field,
            )
            for call, rows in store_batches.plan(calls).items()
        ]

    @staticmethod
    def _depths(req: SearchRequest) -> tuple[int, int]:
        """Candidates a request keeps (``k``, or the rerank head) and takes per fused retriever."""
        depth = max(req.k, req.rerank_top_n or 0)
        return depth, max(req.fusion.window_for(req.k), depth)

    def _annotate_single(self, name: str, found: Sequence[Hit], unit_query: bool = True) -> list[Hit]:
        """Ranks, scores and retrievers of one retriever's hits; ``relevance`` for a dense one
        (``unit_query``: the query vector has unit length, as a normalizing encoder's has)."""
        hits = list(found)
        dense = self.retrievers[name].kind is RetrieverKind.DENSE
        unit = unit_query and self._stores_unit_vectors()
        for rank, hit in enumerate(hits, 1):  # fresh objects from the connector: annotate in place
            hit.ranks, hit.scores, hit.retrievers = {name: rank}, {name: hit.score}, [name]
            if dense:
                hit.relevance = dense_relevance(self.spec.metric, hit.score, unit)
        return hits

    def _stores_unit_vectors(self) -> bool:
        """Whether the dense vectors written (and queried) are unit length: the encoder says so."""
        return any(
            r.kind is RetrieverKind.DENSE and encoder_normalizes(r.encoder) is True for r in self.retrievers.values()
        )

    # ---- search by vector, reads (shared checks) ------------------------------------------
    def _vector_query(
        self, vector: Any, k: Any, filter: Optional[Filter | dict], retriever: str
    ) -> tuple[str, Any, int, Optional[Filter], bool]:
        """``search_by_vector``'s arguments checked: retriever name, query vector (float32 array or
        ``SparseVector``), k, validated filter, and whether the dense query has unit length."""
        r = self.retrievers.get(retriever) if isinstance(retriever, str) else None
        if r is None or r.kind is RetrieverKind.TEXT:
            vector_ones = sorted(n for n, x in self.retrievers.items() if x.kind is not RetrieverKind.TEXT)
            raise InvalidInputError(
                f"retriever={short_repr(retriever)}: search_by_vector needs a dense or sparse retriever of this "
                f"index: {vector_ones}"
            )
        k = check_k(k)
        filter_ = self._filter(filter)
        if r.kind is RetrieverKind.SPARSE:
            if isinstance(vector, dict):
                try:
                    vector = SparseVector.from_dict(vector)
                except ValidationError as exc:
                    raise invalid_input(exc, "vector: not a sparse vector") from None
                except ValueError as exc:
                    raise InvalidInputError(f"vector: not a sparse vector ({exc})") from None
            if not isinstance(vector, SparseVector):
                raise InvalidInputError(
                    f"vector: retriever {retriever!r} is sparse (field {r.field!r}) and needs a SparseVector or "
                    f"{{token_id: weight}}, got {type(vector).__name__}"
                )
            return retriever, vector, k, filter_, True
        if isinstance(vector, (SparseVector, dict, str, bytes)):
            raise InvalidInputError(
                f"vector: retriever {retriever!r} is dense and needs a list of {self.spec.dense_dim} floats, "
                f"got {type(vector).__name__}"
            )
        try:
            array = np.asarray(vector, dtype=np.float32)
        except (TypeError, ValueError):
            raise InvalidInputError(f"vector={short_repr(vector)}: not a list of floats") from None
        if array.ndim != 1 or array.shape[0] != self.spec.dense_dim:
            got = array.shape[0] if array.ndim == 1 else f"shape {array.shape}"
            raise InvalidInputError(
                f"vector: field {r.field!r} of collection {self.spec.name!r} expects dim {self.spec.dense_dim}, "
                f"got {got}"
            )
        if not np.all(np.isfinite(array)):
            raise InvalidInputError("vector: has non-finite values (nan or inf)")
        unit = abs(float(np.linalg.norm(array.astype(np.float64))) - 1.0) <= UNIT_NORM_TOL
        return retriever, array, k, filter_, unit

    @staticmethod
    def _ids(ids: Any) -> list[str]:
        return check_ids(ids)

    def _delete_ids(self, ids: Any) -> Optional[list[str]]:
        return None if ids is None else self._ids(ids)

    @staticmethod
    def _batch_size(batch_size: Any) -> int:
        return check_int(batch_size, "batch_size", low=1)

    @staticmethod
    def _annotate_native(names: list[str], found: Sequence[Hit]) -> list[Hit]:
        hits = list(found)
        for hit in hits:
            hit.retrievers = list(names)
        return hits

    def _fuse(self, req: SearchRequest, lists: dict[str, Sequence[Hit]], depth: int) -> list[Hit]:
        """Client-side fusion of the retrievers' ranked lists (pinned RRF, or linear), with the
        agreement guard's weights (``fusion.guarded``); ``explain`` records the guard's overlaps."""
        params = req.fusion
        top_n, factor = self._guard(req)
        ids = {n: ids_and_scores(hits)[0] for n, hits in lists.items()}
        weights, overlaps = fusion.guarded(ids, {n: params.weight(n) for n in lists}, top_n, factor)
        if params.method is FusionMethod.RRF:
            hits = fusion.rrf(lists, depth, k=params.rrf_k, weights=weights)
        else:
            lower_better = self.spec.metric is Metric.L2
            direction = {n: not (lower_better and self.retrievers[n].kind is RetrieverKind.DENSE) for n in lists}
            hits = fusion.linear(lists, depth, weights=weights, higher_is_better=direction)
        if req.explain:  # the overlaps, for ``_explained`` to complete
            for hit in hits:
                hit.explain = {n: RetrieverExplain(ran=True, overlap=overlaps[n]) for n in lists}
        return hits

    def _native(
        self,
        names: list[str],
        vectors: dict[str, Any],
        depth: int,
        filter_: Optional[Filter],
        params: FusionParams,
        window: int,
    ) -> Any:
        """The connector's server-side RRF: hits, or an awaitable of hits (async)."""
        if params.method is not FusionMethod.RRF or any(params.weight(n) != 1.0 for n in names):
            raise ConfigurationError("native fusion supports unweighted RRF only; use client-side fusion")
        if any(self.retrievers[n].kind is RetrieverKind.TEXT for n in names):
            raise ConfigurationError("native fusion covers dense and sparse retrievers; fuse 'text' client-side")
        dense = next((vectors[n] for n in names if self.retrievers[n].kind is RetrieverKind.DENSE), None)
        sparse = {
            self.retrievers[n].field: vectors[n] for n in names if self.retrievers[n].kind is RetrieverKind.SPARSE
        }
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
            reranked.append(
                hit.model_copy(
                    update={
                        "score": float(scores[i]),
                        "relevance": None,
                        "ranks": {**hit.ranks, "first_stage": i + 1, "rerank": rank},
                        "scores": {**hit.scores, "first_stage": hit.score, "rerank": float(scores[i])},
                    }
                )
            )
        return reranked + tail


class HybridIndex(IndexCore):
    """Dense / sparse / hybrid search over one collection of any ``Connector``.

    Fusion happens client-side (pinned RRF in ``vecbridge.fusion``), so rankings are the same on
    every backend; ``FusionParams(native=True)`` asks the backend's server-side RRF instead.
    Encoders shared by several retrievers (BGE-M3: dense + sparse) run once per batch.

    Thread safety (contract): one index may be shared by threads; ``search``, ``search_batch``,
    ``run``, ``upsert``, ``get``, ``count`` and ``delete`` may run concurrently. The index keeps no
    per-call state, encoders guard their non-re-entrant parts (tokenizers) themselves, and store calls
    are not serialized: a search that runs during an upsert may or may not see the documents written.

    With ``concurrent`` (default), a hybrid search sends its retrievers' store calls at once from a
    small thread pool the index owns (``close()`` ends it), and ``run``/``search_batch`` encode the
    next ``query_chunk`` queries while the current chunk's searches run. Results are the same as
    sequential calls: each retriever's list is fused exactly as before.

    ``batch_queries``: searches running at once in several threads are served together, as one
    ``search_batch``: one encoder call per encoder, one multi-query store call per retriever where
    the connector has one (Milvus), one ``get`` for the late content. While one such batch runs, the
    searches that arrive wait and form the next (``vecbridge.encoders.batching.Coalescer``); a lone
    search never waits. Each search gets the hits it would get alone; a search whose batch fails is
    run again alone, so an error reaches only the search that caused it.
    """

    def __init__(
        self,
        connector: Connector,
        spec: CollectionSpec,
        retrievers: Sequence[Retriever],
        reranker: Optional[Reranker] = None,
        batch_size: int = 256,
        concurrent: bool = True,
        query_chunk: int = 64,
        batch_queries: bool = True,
    ) -> None:
        if query_chunk <= 0:
            raise ConfigurationError(f"query_chunk must be > 0, got {query_chunk!r}")
        super().__init__(
            connector, spec, retrievers, reranker=reranker, batch_size=batch_size, batch_queries=batch_queries
        )
        self.concurrent, self.query_chunk = concurrent, query_chunk
        # searches at once are coalesced whole (``batch_queries``)
        self._searches: Optional[Coalescer[SearchRequest, list[list[Hit]]]] = (
            Coalescer(self._run_now, lambda hits, start, stop: hits[start:stop], query_chunk, max_running=2)
            if batch_queries
            else None
        )
        self._pool: Optional[ThreadPoolExecutor] = None
        self._pool_lock = threading.Lock()
        self._overlapping = threading.Lock()  # held by the one search running ``_search_overlapped``
        connector.ensure_collection(spec)
        self.corpus_stats = corpus_stats_of(connector, spec.name, self.retrievers.values())

    @classmethod
    def create(
        cls,
        connector: Connector,
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
        concurrent: bool = True,
        tenant_key: Optional[str] = None,
        hnsw_m: Optional[int] = None,
        hnsw_ef_construction: Optional[int] = None,
        batch_queries: bool = True,
    ) -> HybridIndex:
        """An index with retrievers ``dense`` and/or ``sparse`` (and ``text``: the store's own BM25,
        where it has one); the spec is derived from the encoders.

        ``metric`` None: IP when the dense encoder declares normalized output (``normalize`` True),
        else COSINE (``default_metric``); a given metric wins. ``tenant_key``: a metadata key (made a
        filterable string) naming each document's tenant; ``index.tenant(name)`` scopes calls to one.
        ``hnsw_m`` / ``hnsw_ef_construction`` (with ``dense_index=HNSW``): the graph's build parameters
        on a Milvus server; ``search(..., ef=...)`` sets the search breadth. ``batch_queries``: concurrent
        searches are served together (``IndexCore``; docs/concurrency.md).

        ``text_analyzer`` (with ``text``; default ``standard``) becomes ``spec.text_analyzer``: Milvus
        builds its full-text BM25 index with it (``english``, ``chinese``, ``standard``).
        """
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
        return cls(
            connector,
            spec,
            retrievers,
            reranker=reranker,
            batch_size=batch_size,
            concurrent=concurrent,
            batch_queries=batch_queries,
        )

    # ---- writes -----------------------------------------------------------------------
    def upsert(
        self,
        documents: Iterable[Document],
        progress: bool = False,
        total: Optional[int] = None,
        on_error: OnError | str = OnError.SKIP,
        dead_letter: Optional[str] = None,
        encode_missing: bool = True,
    ) -> IngestReport:
        """Encode and write documents in batches (idempotent by id), encoding the next batch while
        the previous one is written.

        A ``VectorDocument`` brings its own ``dense`` / ``sparse`` vectors: they are written exactly
        as given and only the rows (and outputs) without one are encoded; ``encode_missing=False``
        stores those rows without that vector instead (dense search never returns them). A given
        vector of the wrong dimension, or for a field the collection lacks, fails that document.

        Nothing is lost silently: every id not written is in ``report.failed`` with the reason (and
        in ``dead_letter`` when given); within one batch a repeated id keeps the last document and
        counts the earlier ones as ``skipped``. ``vecbridge.ingest.ingest`` adds files, checkpoints
        and chunking. A store that stays down raises ``IngestError``.
        """
        return ingest(
            self,
            documents,
            progress=progress,
            total=total,
            on_error=on_error,
            dead_letter=dead_letter,
            encode_missing=encode_missing,
        )

    add = upsert

    def sync(
        self, source: Any, *, source_key: Optional[str] = None, cleanup: str = "none", **options: Any
    ) -> SyncReport:
        """Make this index hold exactly ``source`` (documents, a file or a folder) under ``source_key``,
        encoding only new and changed documents; ``cleanup="full"`` deletes what left the source.
        ``options`` as ``vecbridge.ingest.sync.sync`` (chunking, dead letters, ...); docs/sync.md."""
        from vecbridge.ingest.sync import sync

        return sync(self, source, source_key=source_key, cleanup=cleanup, **options)

    def write_batch(self, batch: IndexBatch) -> int:
        """Write one encoded batch to the store (``Connector.upsert``); the BM25 statistics of a
        ``LiveBM25Encoder`` count what the store acknowledged (``vecbridge/corpus_stats.py``)."""
        if self.corpus_stats is None:
            return self.connector.upsert(self.spec.name, batch)
        return self.corpus_stats.write(batch, lambda rows: self.connector.upsert(self.spec.name, rows))

    def delete(self, ids: Optional[Sequence[str]] = None, filter: Optional[Filter | dict] = None) -> int:
        ids, filter_ = self._delete_ids(ids), self._filter(filter)
        if self.corpus_stats is None:
            return self.connector.delete(self.spec.name, ids=ids, filter=filter_)
        return self.corpus_stats.delete(
            ids, filter_, lambda: self.connector.delete(self.spec.name, ids=ids, filter=filter_)
        )

    def delete_all(self) -> int:
        """Delete every document; the collection and its vecbridge state stay. Returns how many."""
        deleted = self.connector.delete_all(self.spec.name)
        if self.corpus_stats is not None:
            self.corpus_stats.replace_all(self.corpus_stats.recount())
        return deleted

    def reindex_sparse(self, batch_size: int = 256, progress: bool = False) -> ReindexReport:
        """Recount the BM25 statistics from the stored texts and re-encode every stored sparse vector
        with them (``vecbridge reindex --sparse``): removes the ``avgdl`` drift of documents written
        while the corpus grew. Dense vectors are kept as stored. Run it while nothing else writes."""
        from vecbridge.reindex import reindex_sparse

        return reindex_sparse(self, batch_size=batch_size, progress=progress)

    def tenant(self, name: str) -> TenantView:
        """This index seen by one tenant: every search, get, count, iterate, delete and upsert is
        scoped to documents whose ``spec.tenant_key`` is ``name`` (``vecbridge/tenants.py``)."""
        from vecbridge.tenants import TenantView

        return TenantView(self, name)

    def get(self, ids: Sequence[str], with_vectors: bool = False) -> list[Document]:
        """The documents of ``ids`` that exist, in that order; ``with_vectors``: ``StoredDocument``s
        with the stored ``dense`` and ``sparse`` vectors."""
        return self.connector.get(self.spec.name, self._ids(ids), with_vectors=bool(with_vectors))

    def iterate(
        self, filter: Optional[Filter | dict] = None, batch_size: int = 1000, with_vectors: bool = False
    ) -> Iterator[Document]:
        """Every document matching ``filter``, exactly once, read from the store ``batch_size`` at a
        time (Milvus: query iterator; Elasticsearch: point in time + search_after). Documents written
        meanwhile may or may not be seen; none that existed at the start comes twice."""
        batches = self.connector.iterate(
            self.spec.name, self._filter(filter), self._batch_size(batch_size), bool(with_vectors)
        )
        return (doc for batch in batches for doc in batch)

    def count(self, filter: Optional[Filter | dict] = None) -> int:
        return self.connector.count(self.spec.name, filter=self._filter(filter))

    # ---- search -----------------------------------------------------------------------
    def search_by_vector(
        self,
        vector: Any,
        k: int = 10,
        filter: Optional[Filter | dict] = None,
        retriever: str = "dense",
        ef: Optional[int] = None,
    ) -> list[Hit]:
        """Top ``k`` of one retriever for a vector you computed: ``list[float]`` (dim checked) for a
        dense retriever, ``SparseVector`` (or ``{token_id: weight}``) for a sparse one. Ties are
        ordered by id as in ``search``; dense hits carry ``relevance`` where the metric allows
        (IP only when the query has unit length and the encoder normalizes). ``ef``: HNSW search breadth."""
        name, query, k, filter_, unit = self._vector_query(vector, k, filter, retriever)
        ef = None if ef is None else check_k(ef, "ef")
        return self._annotate_single(name, self._retrieve(name, query, k, filter_, ef), unit_query=unit)

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
        return self.run(self._requests(queries, k, mode, filter, rrf_k, weights, window, options))

    def run(self, requests: Sequence[SearchRequest]) -> list[list[Hit]]:
        """Execute search requests in chunks of ``query_chunk``; each distinct encoder a chunk needs
        encodes its queries in one call, the next chunk's while this chunk's searches run. With
        ``batch_queries``, runs at once from several threads are coalesced (class docstring)."""
        if not requests:
            return []
        if self._searches is not None:
            return self._searches.call(requests)
        return self._run_now(requests)

    def _run_now(self, requests: Sequence[SearchRequest]) -> list[list[Hit]]:
        if not requests:
            return []
        originals, requests = list(requests), [self._plan(req) for req in requests]  # unknown ones fail here
        if len(requests) == 1 and self._overlaps(requests[0]) and self._overlapping.acquire(blocking=False):
            try:  # one overlapped search at a time: concurrent searches keep the batch path
                return self._explain_all(originals, requests, [self._search_overlapped(requests[0])])
            finally:
                self._overlapping.release()
        chunks = [requests[i : i + self.query_chunk] for i in range(0, len(requests), self.query_chunk)]
        results: list[list[Hit]] = []
        if len(chunks) == 1 or not self.concurrent:
            for chunk in chunks:
                results.extend(self._search_chunk(chunk, self._encode_queries(chunk)))
            return self._explain_all(originals, requests, results)
        with ThreadPoolExecutor(1, thread_name_prefix="vecbridge-encode") as encoding:
            pending = encoding.submit(self._encode_queries, chunks[0])
            for position, chunk in enumerate(chunks):
                outputs = pending.result()
                if position + 1 < len(chunks):
                    pending = encoding.submit(self._encode_queries, chunks[position + 1])
                results.extend(self._search_chunk(chunk, outputs))
        return self._explain_all(originals, requests, results)

    def encode_documents(self, documents: Sequence[Document], encode_missing: bool = True) -> IndexBatch:
        if self.corpus_stats is not None:
            try:
                self.corpus_stats.refresh()  # avgdl as the store's entries say now
            except ConnectorError as exc:  # the write will meet the outage; encoding goes on
                log.info("BM25 statistics not refreshed before encoding (%s); using the last ones", exc)
        return super().encode_documents(documents, encode_missing=encode_missing)

    def _encode_queries(self, requests: Sequence[SearchRequest]) -> dict[int, Embeddings]:
        if self.corpus_stats is not None:
            self.corpus_stats.refresh()  # idf from the current statistics
        return super()._encode_queries(requests)

    def close(self) -> None:
        """End the retriever thread pool (the connector stays open; a later search starts a new pool)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    # ---- concurrency helpers -------------------------------------------------------------
    def _search_chunk(self, requests: Sequence[SearchRequest], outputs: dict[int, Embeddings]) -> list[list[Hit]]:
        """The requests' hits: retrievers asked with equal parameters by several requests share one
        multi-query store call (``store_batches``), and late content is read with one ``get``."""
        prepared = [self._prepare(req, outputs, row) for row, req in enumerate(requests)]
        first = self._first_answers(requests, prepared) if len(requests) > 1 else [{} for _ in requests]
        fused = [
            self._search_one(req, names, vectors, filter_, first[row], defer_content=True)
            for row, (req, (filter_, names, vectors)) in enumerate(zip(requests, prepared, strict=True))
        ]
        ids = content_ids(fused)
        ranked = with_content(fused, self.connector.get(self.spec.name, ids) if ids else [])
        results = []
        for req, hits in zip(requests, ranked, strict=True):
            if req.rerank_top_n:
                hits = self._rerank(req.query, hits, req.rerank_top_n)
            results.append(hits[: req.k])
        return results

    def _first_answers(
        self, requests: Sequence[SearchRequest], prepared: Sequence[tuple[Optional[Filter], list[str], dict[str, Any]]]
    ) -> list[dict[str, Sequence[Hit]]]:
        """Per request, the first store answer of each retriever whose call it shares with other
        requests, made by one multi-query call per shared call (retrievers' calls concurrent)."""
        calls = self._shared_calls(requests, prepared)
        if len(calls) > 1 and self.concurrent:
            results = list(self._executor().map(lambda call: call(), calls))
        else:
            results = [call() for call in calls]
        return store_batches.placed(calls, results, len(requests))

    def _executor(self) -> Executor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(len(self.retrievers), thread_name_prefix="vecbridge-retrieve")
            return self._pool

    def _retrieve_all(
        self,
        names: list[str],
        vectors: dict[str, Any],
        k: int,
        filter_: Optional[Filter],
        ef: Optional[int] = None,
        content: bool = True,
        first: Optional[dict[str, Sequence[Hit]]] = None,
    ) -> dict[str, Sequence[Hit]]:
        """Each named retriever's top ``k``, keyed (and ordered) by name; store calls run concurrently
        when there are several and ``concurrent`` is on. The first failure (in name order) is raised.
        ``first``: retrievers' first answers already asked (``settled_top``)."""
        first = first or {}
        asked = [n for n in names if n not in first]
        if len(asked) < 2 or not self.concurrent:
            return {n: self._retrieve(n, vectors[n], k, filter_, ef, content, first.get(n)) for n in names}
        if len(asked) < len(names):
            out = {n: self._retrieve(n, vectors[n], k, filter_, ef, content, first[n]) for n in names if n in first}
            out.update(self._retrieve_all(asked, vectors, k, filter_, ef, content))
            return {n: out[n] for n in names}
        pool = self._executor()
        *others, last = names  # the last retriever runs in this thread: one thread hand-off fewer
        futures = {n: pool.submit(self._retrieve, n, vectors[n], k, filter_, ef, content) for n in others}
        try:
            own: Any = self._retrieve(last, vectors[last], k, filter_, ef, content)
        except Exception as exc:  # raised after the earlier-named retrievers' failures, if any
            own = exc
        out = {n: future.result() for n, future in futures.items()}
        if isinstance(own, Exception):
            raise own
        out[last] = own
        return out

    def _overlaps(self, req: SearchRequest) -> bool:
        """Whether a lone ``req`` runs each encoder's searches as soon as that encoder is done
        (``_search_overlapped``): concurrent, client-side fusion, and at least two encoders (or an
        encoder and the store's text search) to overlap."""
        if not self.concurrent or req.fusion.native:
            return False
        return len({id(self.retrievers[n].encoder) for n in self._retriever_names(req)}) > 1

    def _search_overlapped(self, req: SearchRequest) -> list[Hit]:
        """One request, each encoder encoding and searching on its own: the other encoders' store calls
        (BM25's sparse search) run while the dense model still runs. The retrievers with a dense output
        run in this thread, the others on the retriever pool. Hits equal the encode-all-then-search path
        (the same vectors and store calls, fused in name order); the first failure in name order is raised.

        One search at a time takes this path (``run``): a lone query gains a little (int8 MiniLM + BM25 on
        Milvus Lite, 2 cores: p50 about 0.95x, client CPU not raised), while with 8 searches at once, all
        overlapping, p50 did not drop."""
        names = self._retriever_names(req)
        filter_ = self._filter(req.filter)
        depth, window = self._depths(req)
        if self.corpus_stats is not None:
            self.corpus_stats.refresh()  # idf from the current statistics
        groups: dict[int, list[str]] = {}
        for name in names:  # one group per encoder (BGE-M3's dense + sparse encode once)
            groups.setdefault(id(self.retrievers[name].encoder), []).append(name)
        own = next(
            (g for g in groups.values() if any(self.retrievers[n].kind is RetrieverKind.DENSE for n in g)),
            list(groups.values())[-1],
        )
        content = not self.late_content

        def encode_and_retrieve(group: list[str]) -> dict[str, Sequence[Hit]]:
            encoder = self.retrievers[group[0]].encoder
            outputs = self._encode([req.query], queries=True, encoders=[encoder]) if encoder is not None else {}
            return {
                n: self._retrieve(
                    n, self._query_vector(self.retrievers[n], outputs, 0, req.query), window, filter_, req.ef, content
                )
                for n in group
            }

        pool = self._executor()
        futures = [(g, pool.submit(encode_and_retrieve, g)) for g in groups.values() if g is not own]
        lists: dict[str, Any] = {}

        def collect(group: list[str], outcome: Callable[[], dict[str, Sequence[Hit]]]) -> None:
            try:
                lists.update(outcome())
            except Exception as exc:  # every group ends before the first failure is raised
                lists.update(dict.fromkeys(group, exc))

        collect(own, lambda: encode_and_retrieve(own))
        for group, future in futures:
            collect(group, future.result)
        failed = next((lists[n] for n in names if isinstance(lists[n], Exception)), None)
        if failed is not None:
            raise failed
        fused = self._fuse(req, {n: lists[n] for n in names}, depth)
        if not content and fused:
            fused = attach_content(fused, self.connector.get(self.spec.name, [h.id for h in fused]))
        hits = self._rerank(req.query, fused, req.rerank_top_n) if req.rerank_top_n else fused
        return hits[: req.k]

    # ---- internals --------------------------------------------------------------------
    def _retrieve(
        self,
        name: str,
        vector: Any,
        k: int,
        filter_: Optional[Filter],
        ef: Optional[int] = None,
        content: bool = True,
        first: Optional[Sequence[Hit]] = None,
    ) -> Sequence[Hit]:
        """Top ``k`` of one retriever, best first, exactly tied scores ordered by id (``settled_top``)."""
        return settled_top(lambda n: self._retrieve_from_store(name, vector, n, filter_, ef, content), k, first)

    def _search_one(
        self,
        req: SearchRequest,
        names: list[str],
        vectors: dict[str, Any],
        filter_: Optional[Filter],
        first: Optional[dict[str, Sequence[Hit]]] = None,
        defer_content: bool = False,
    ) -> Any:
        """The request's fused (or single-retriever) hits; ``first``: retrievers' first answers
        already asked. ``defer_content``: returns ``(hits, content_missing)``, leaving the late
        content's ``get`` to the caller."""
        first = first or {}
        depth, window = self._depths(req)
        hits, later = self._ranked(req, names, vectors, filter_, first, depth, window)
        if defer_content:
            return hits, later
        return (
            attach_content(hits, self.connector.get(self.spec.name, [h.id for h in hits])) if later and hits else hits
        )

    def _ranked(
        self,
        req: SearchRequest,
        names: list[str],
        vectors: dict[str, Any],
        filter_: Optional[Filter],
        first: dict[str, Sequence[Hit]],
        depth: int,
        window: int,
    ) -> tuple[list[Hit], bool]:
        """Hits in their final order, and whether their text and metadata are still to be read."""
        if len(names) == 1:
            (name,) = names
            return self._annotate_single(
                name, self._retrieve(name, vectors[name], depth, filter_, req.ef, True, first.get(name))
            ), False
        if req.fusion.native:
            # the server's fused ties ordered by id, as the pinned RRF orders them
            fused = settled_top(lambda n: self._native(names, vectors, n, filter_, req.fusion, window), depth)
            return self._annotate_native(names, fused), False
        if not self.late_content:
            return self._fuse(
                req, self._retrieve_all(names, vectors, window, filter_, req.ef, first=first), depth
            ), False
        lists = self._retrieve_all(names, vectors, window, filter_, req.ef, content=False, first=first)
        return self._fuse(req, lists, depth), True
