"""Assemble connectors, encoders and an index from ``Settings``; remember what a collection was built with."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Optional

from connectors import Connector
from encoders import Encoder
from schemas import CollectionSpec, ConfigurationError, ScalarType, Settings
from vecbridge.index import HybridIndex

NONE = "none"


def _milvus(settings: Settings) -> Connector:
    from connectors.milvus import MilvusConnector

    return MilvusConnector(uri=settings.uri, token=settings.token)


def _elasticsearch(settings: Settings) -> Connector:
    from connectors.elasticsearch import ElasticsearchConnector

    return ElasticsearchConnector.from_settings(settings)


CONNECTORS: dict[str, Callable[[Settings], Connector]] = {"milvus": _milvus, "elasticsearch": _elasticsearch}


def open_connector(settings: Settings) -> Connector:
    """The connector named by ``settings.backend``."""
    try:
        factory = CONNECTORS[settings.backend]
    except KeyError:
        raise ConfigurationError(f"backend={settings.backend!r}; choose one of {sorted(CONNECTORS)}") from None
    return factory(settings)


def collection_dir(settings: Settings, collection: Optional[str] = None) -> Path:
    return Path(settings.state_dir) / (collection or settings.collection)


def load_encoder(name: str, settings: Settings, state: Path, corpus: Optional[Callable[[], Iterable[str]]]) -> Encoder:
    """An encoder by name; ``bm25`` is loaded from ``state/bm25`` or fitted on ``corpus()`` and saved there."""
    from encoders.factory import load_encoder as load_named

    if name != "bm25":
        from encoders.factory import resolve_backend

        options: dict[str, Any] = {"batch_size": settings.batch_size, "max_length": settings.max_length}
        if resolve_backend(settings.encoder_backend, settings.device) == "onnx":  # auto: onnx on CPU
            options.update(backend="onnx", num_threads=settings.onnx_threads)
            if settings.onnx_quantize:
                options["quantize"] = settings.onnx_quantize
        else:
            options.update(backend="torch", device=settings.device)
        return load_named(name, query_max_length=settings.query_max_length, **options)
    from encoders.bm25 import BM25Encoder

    path = state / "bm25"
    if path.exists():
        return BM25Encoder.load(path)
    if corpus is None:
        raise ConfigurationError(f"no BM25 statistics at {str(path)!r}: ingest documents into this collection first")
    encoder = BM25Encoder().fit(list(corpus()))
    encoder.save(path)
    return encoder


def open_index(
    settings: Settings,
    filterable: Optional[dict[str, str]] = None,
    corpus: Optional[Callable[[], Iterable[str]]] = None,
    collection: Optional[str] = None,
) -> HybridIndex:
    """Open (or create) the collection named in settings with the configured encoders.

    The first call writes a manifest (spec + model names) under ``state_dir``; later calls check
    that the settings still name the same models, since vectors of other models would not match.
    """
    name = collection or settings.collection
    state = collection_dir(settings, name)
    manifest_path = state / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    models = {"dense_model": settings.dense_model, "sparse_model": settings.sparse_model}
    if manifest is not None:
        built_with = {k: manifest[k] for k in models}
        if built_with != models:
            raise ConfigurationError(
                f"collection {name!r} was built with {built_with}, settings say {models}; "
                f"use the same models or another collection"
            )
        declared = manifest["spec"]["filterable"]
        if filterable and {k: ScalarType(v).value for k, v in filterable.items()} != declared:
            raise ConfigurationError(f"collection {name!r} declares filterable keys {declared}, got {filterable}")
        filterable = declared
    dense = None if settings.dense_model == NONE else load_encoder(settings.dense_model, settings, state, corpus)
    sparse = None
    if settings.sparse_model not in (NONE, settings.dense_model):
        sparse = load_encoder(settings.sparse_model, settings, state, corpus)
    if dense is None and sparse is None and not settings.text_search:
        raise ConfigurationError("both dense_model and sparse_model are 'none' and text_search is off")
    if settings.sparse_model == settings.dense_model and dense is not None:
        sparse = dense  # one model, one pass (BGE-M3: dense + lexical weights)
    reranker = None
    if settings.reranker:
        from encoders.factory import load_reranker

        reranker = load_reranker(settings.reranker, encoder=dense or sparse)
    index = HybridIndex.create(
        open_connector(settings), name, dense=dense, sparse=sparse, filterable=filterable,
        batch_size=settings.ingest_batch_size, reranker=reranker, text=settings.text_search,
    )
    if manifest is None:
        state.mkdir(parents=True, exist_ok=True)
        manifest_path.write_text(json.dumps({**models, "spec": index.spec.model_dump(mode="json")}, indent=2))
    return index


def spec_from_manifest(settings: Settings, collection: Optional[str] = None) -> Optional[CollectionSpec]:
    path = collection_dir(settings, collection) / "manifest.json"
    return CollectionSpec.model_validate(json.loads(path.read_text())["spec"]) if path.exists() else None


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
