"""Assemble connectors, encoders and an index from ``Settings``; the store keeps what a collection was built with."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Optional

from vecbridge.connectors import Connector
from vecbridge.encoders import Encoder
from vecbridge.index import HybridIndex
from vecbridge.schemas import ConfigurationError, Metric, ScalarType, Settings
from vecbridge.schemas.errors import CollectionNotFoundError
from vecbridge.state import CollectionState, load_state

NONE = "none"
FROZEN_BM25_WARNING = (
    "collection %r was built with frozen BM25 statistics (fitted at its first ingest): terms first seen "
    "later are dropped and document frequencies never change. Migrate it once, while nothing else writes "
    "to it, with `vecbridge reindex --sparse --collection %s` (re-encodes the sparse vectors with statistics "
    "that follow the corpus)"
)
log = logging.getLogger(__name__)


def _milvus(settings: Settings) -> Connector:
    from vecbridge.connectors.milvus import MilvusConnector

    retries: dict[str, Any] = {"retry_attempts": settings.retry_attempts, "retry_max_wait": settings.retry_max_wait}
    return MilvusConnector(
        uri=settings.uri, token=settings.token, **{k: v for k, v in retries.items() if v is not None}
    )


def _elasticsearch(settings: Settings) -> Connector:
    from vecbridge.connectors.elasticsearch import ElasticsearchConnector

    return ElasticsearchConnector.from_settings(settings)


CONNECTORS: dict[str, Callable[[Settings], Connector]] = {"milvus": _milvus, "elasticsearch": _elasticsearch}


def open_connector(settings: Settings) -> Connector:
    """The connector named by ``settings.backend``."""
    try:
        factory = CONNECTORS[settings.backend]
    except KeyError:
        raise ConfigurationError(f"backend={settings.backend!r}; choose one of {sorted(CONNECTORS)}") from None
    return factory(settings)


def load_encoder(
    name: str,
    settings: Settings,
    stats: Optional[dict[str, Any]],
    corpus: Optional[Callable[[], Iterable[str]]],
    collection: str = "",
) -> Encoder:
    """An encoder by name. ``bm25`` is a ``LiveBM25Encoder`` (statistics that follow the corpus, kept
    in the store: ``vecbridge/corpus_stats.py``), rebuilt from ``stats`` (the collection's stored BM25
    parameters) or new (``stats is None``); ``bm25:k1=..,b=..,analyzer=..`` options apply to a new
    collection. A collection built with frozen statistics (a fitted ``BM25Encoder``) keeps them, with
    a warning naming the migration (``vecbridge reindex --sparse``). ``corpus`` is no longer read."""
    from vecbridge.encoders.bm25 import bm25_options
    from vecbridge.encoders.factory import load_encoder as load_named

    options_bm25 = bm25_options(name)
    if options_bm25 is None:
        from vecbridge.encoders.factory import resolve_backend

        options: dict[str, Any] = {"batch_size": settings.batch_size, "max_length": settings.max_length}
        if resolve_backend(settings.encoder_backend, settings.device) == "onnx":  # auto: onnx on CPU
            options.update(backend="onnx", num_threads=settings.onnx_threads)
            options["quantize"] = settings.onnx_quantize  # "auto": resolved by the factory per model
        else:
            options.update(backend="torch", device=settings.device)
        return load_named(name, query_max_length=settings.query_max_length, **options)
    from vecbridge.encoders.bm25 import BM25Encoder
    from vecbridge.encoders.bm25_live import LiveBM25Encoder, is_live

    if stats is None:
        return LiveBM25Encoder(**options_bm25)
    if "bm25" not in stats:
        raise ConfigurationError(f"collection {collection!r} has no BM25 statistics in its stored state")
    source = f"BM25 statistics of collection {collection!r}"
    if is_live(stats["bm25"]):
        return LiveBM25Encoder.from_dict(stats["bm25"], source=source)
    log.warning(FROZEN_BM25_WARNING, collection, collection)
    return BM25Encoder.from_dict(stats["bm25"], source=source)


def open_index(
    settings: Settings,
    filterable: Optional[dict[str, str]] = None,
    corpus: Optional[Callable[[], Iterable[str]]] = None,
    collection: Optional[str] = None,
    create: bool = True,
) -> HybridIndex:
    """Open (or create) the collection named in settings with the configured encoders.

    ``create=False`` opens an existing collection only: a missing one raises
    ``CollectionNotFoundError`` naming the store, and nothing is created (not even a Milvus Lite file).

    What a collection was built with (models, spec, BM25 statistics) lives in the store beside the
    data (``vecbridge/state.py``): the first call writes it, every later call from any process or
    directory reads it and checks that the settings still name the same models (vectors of other
    models would not match) and the same filterable keys.
    """
    name = collection or settings.collection
    connector = open_connector(settings)
    try:
        if not create and not connector.has_collection(name):
            raise CollectionNotFoundError(
                f"collection {name!r} does not exist at {connector!r}: ingest documents into it first"
            )
        return _open(connector, settings, name, filterable, corpus)
    except BaseException:
        connector.close()
        raise


def _open(
    connector: Connector,
    settings: Settings,
    name: str,
    filterable: Optional[dict[str, str]],
    corpus: Optional[Callable[[], Iterable[str]]],
) -> HybridIndex:
    state = load_state(connector, name, settings)
    if state is None and not connector.has_collection(name):
        clear_stale_log(connector, name)
    models = {"dense_model": settings.dense_model, "sparse_model": settings.sparse_model}
    if state is not None:
        built_with = {k: state.models.get(k) for k in models}
        if built_with != models:
            raise ConfigurationError(
                f"collection {name!r} was built with {built_with}, settings say {models}; "
                f"use the same models or another collection"
            )
        declared = {k: v.value for k, v in state.spec.filterable.items()}
        if filterable and {k: ScalarType(v).value for k, v in filterable.items()} != declared:
            raise ConfigurationError(f"collection {name!r} declares filterable keys {declared}, got {filterable}")
        filterable = declared
    stats = state.encoders if state is not None else None
    metric = state.spec.metric if state is not None else None  # collections built before the metric was derived
    index = build_index(connector, settings, name, filterable, stats, corpus, metric=metric)
    if state is None:
        from vecbridge.encoders.bm25 import BM25Encoder
        from vecbridge.encoders.bm25_live import LiveBM25Encoder

        encoders = [r.encoder for r in index.retrievers.values()]
        bm25 = [e for e in encoders if isinstance(e, (BM25Encoder, LiveBM25Encoder))]
        fitted = {"bm25": bm25[-1].to_dict()} if bm25 else {}  # the last one, as the dict comprehension kept
        connector.write_state(name, CollectionState(models, index.spec, fitted).to_dict())
    return index


def clear_stale_log(connector: Connector, name: str) -> None:
    """Remove the BM25 statistics log left by a collection of this name that was dropped outside vecbridge."""
    from vecbridge.corpus_stats import supports_log

    if supports_log(connector):
        stale = connector.log_versions(name)  # type: ignore[attr-defined]
        if stale:
            log.warning("collection %r does not exist: removing %d stale BM25 statistics entries", name, len(stale))
            connector.remove_log(name, stale)  # type: ignore[attr-defined]


def build_index(
    connector: Connector,
    settings: Settings,
    name: str,
    filterable: Optional[dict[str, str]],
    stats: Optional[dict[str, Any]],
    corpus: Optional[Callable[[], Iterable[str]]] = None,
    metric: Optional[Metric] = None,
) -> HybridIndex:
    """The index of collection ``name`` with the encoders the settings name; ``stats`` are the stored
    statistics of fitted encoders (None: a new collection, BM25 fitted on ``corpus()``). Reads and
    writes no state: ``open_index`` does that; Ray ingestion workers call this with shipped state.
    ``metric``: the stored collection's (None: chosen from the dense encoder, ``HybridIndex.create``)."""
    dense = None if settings.dense_model == NONE else load_encoder(settings.dense_model, settings, stats, corpus, name)
    sparse = None
    if settings.sparse_model not in (NONE, settings.dense_model):
        sparse = load_encoder(settings.sparse_model, settings, stats, corpus, name)
    if dense is None and sparse is None and not settings.text_search:
        raise ConfigurationError("both dense_model and sparse_model are 'none' and text_search is off")
    if settings.sparse_model == settings.dense_model and dense is not None:
        sparse = dense  # one model, one pass (BGE-M3: dense + lexical weights)
    reranker = None
    if settings.reranker:
        from vecbridge.encoders.factory import load_reranker

        reranker = load_reranker(settings.reranker, encoder=dense or sparse)
    index = HybridIndex.create(
        connector,
        name,
        dense=dense,
        sparse=sparse,
        filterable=filterable,
        metric=metric,
        batch_size=settings.ingest_batch_size,
        reranker=reranker,
        text=settings.text_search,
        text_analyzer=settings.text_analyzer,
    )
    index.agreement_top_n = settings.fusion_agreement_top_n  # the agreement guard (vecbridge/fusion.py)
    index.disagreement_factor = settings.fusion_disagreement_factor
    return index


def parse_filterable(pairs: Iterable[str]) -> dict[str, Any]:
    """``["lang:string", "year:int"]`` -> ``{"lang": "string", "year": "int"}``."""
    out = {}
    for pair in pairs:
        key, _, kind = pair.partition(":")
        if not key or kind not in {t.value for t in ScalarType}:
            raise ConfigurationError(
                f"--filterable {pair!r}: expected KEY:TYPE with TYPE in {[t.value for t in ScalarType]}"
            )
        out[key] = kind
    return out
