"""Encoder configurations for evaluation: which retrievers exist and which model each one uses."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from vecbridge.encoders import Encoder
from vecbridge.encoders.scripts import parse_scripts
from vecbridge.evaluation.embedding_cache import EmbeddingCache, model_fingerprint
from vecbridge.index import Retriever, RetrieverKind
from vecbridge.schemas import ConfigurationError, Embeddings

DENSE = "dense"
TEXT = "text"
EncoderLoader = Callable[[str, str, Sequence[str], Path], Encoder]  # (retriever, model, corpus, cache dir)


@dataclass(frozen=True)
class EncoderConfig:
    """Retriever name -> model. ``dense`` is the dense field; ``text`` is the store's own full-text
    BM25 and its "model" the analyzer (``CollectionSpec.text_analyzer``); every other name is a
    sparse field.

    ``bm25`` (or ``bm25:analyzer=...,k1=...,b=...``, see ``vecbridge.encoders.bm25.bm25_options``) as a model
    means BM25 statistics fitted on the evaluated corpus.
    """

    label: str
    models: dict[str, str]
    # Retriever -> configured languages/scripts (language-aware fusion); overrides the model's own metadata.
    scripts: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.models:
            raise ConfigurationError(f"encoder config {self.label!r} names no retriever")


class TimedEncoder:
    """Wraps an encoder and accumulates the seconds spent encoding documents and queries."""

    def __init__(self, inner: Encoder, cache: Optional[EmbeddingCache] = None) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.outputs = inner.outputs
        self.dense_dim = inner.dense_dim
        self.sparse_vocab_size = inner.sparse_vocab_size
        self.scripts = getattr(inner, "scripts", None)
        # the language rule reads these too (vecbridge.encoders.coverage): forward them, or a wrapped
        # SPLADE model would run on queries nothing covers and explain would lose where coverage came from
        self.runs_uncovered = getattr(inner, "runs_uncovered", True)
        coverage = getattr(inner, "coverage", None)
        if coverage is not None:
            self.coverage = coverage
        self.document_seconds = 0.0
        self.query_seconds = 0.0

    def encode_documents(self, texts: Sequence[str]) -> Embeddings:
        start = time.perf_counter()
        try:
            if self.cache is not None:
                return self.cache.encode(self.inner, texts)
            return self.inner.encode_documents(texts)
        finally:
            self.document_seconds += time.perf_counter() - start

    def encode_queries(self, texts: Sequence[str]) -> Embeddings:
        start = time.perf_counter()
        try:
            return self.inner.encode_queries(texts)
        finally:
            self.query_seconds += time.perf_counter() - start


def identity(encoder: Optional[Encoder], model: str) -> dict[str, Any]:
    """What makes vectors of this encoder reproducible (for the index fingerprint)."""
    if encoder is None:  # the store's own text search: the analyzer is the model
        return {"model": model}
    inner = getattr(encoder, "inner", encoder)
    out: dict[str, Any] = {
        "model": model,
        "class": type(inner).__name__,
        "name": str(inner.name),
        "dense_dim": inner.dense_dim,
    }
    for attr in ("k1", "b", "max_length", "query_max_length", "custom_tokenizer", "analyzer_id", "pooling", "quantize"):
        value = getattr(inner, attr, None)
        if isinstance(value, (str, int, float, bool)):
            out[attr] = value
    graph = getattr(inner, "onnx_path", None)
    if graph is not None and out.get("quantize"):  # export + recipe file name: int8 recipes differ
        out["onnx_graph"] = f"{Path(graph).parent.name}/{Path(graph).name}"
        runner = getattr(inner, "model", inner)  # OnnxModel (dense, SPLADE) or the BGE-M3 encoder itself
        out["per_text"] = bool(getattr(runner, "per_text", False))  # batching changes int8
    return out


def default_loader(retriever: str, model: str, corpus: Sequence[str], cache_dir: Path) -> Encoder:
    """``bm25[:options]``: fitted on ``corpus`` (statistics cached under ``cache_dir``, one folder per
    analyzer/k1/b); else ``vecbridge.config.load_encoder`` with the environment's ``Settings``."""
    from vecbridge.encoders.bm25 import BM25Encoder, bm25_options

    options = bm25_options(model)
    if options is not None:
        encoder = BM25Encoder(**options)
        key = hashlib.sha256(f"{encoder.analyzer_id}|{encoder.k1}|{encoder.b}".encode()).hexdigest()[:12]
        path = cache_dir / f"bm25-{key}"
        if path.exists():
            return BM25Encoder.load(path)
        encoder.fit(list(corpus))
        encoder.save(path)
        return encoder
    from vecbridge.config import load_encoder
    from vecbridge.schemas import Settings

    # The same loading as ``search`` (Settings from VECBRIDGE_* variables: backend auto = ONNX fp32 on
    # CPU, VECBRIDGE_ONNX_QUANTIZE=int8, batch size, lengths), so eval measures the encoders search runs.
    return load_encoder(model, Settings(), None, None)


def build_retrievers(
    config: EncoderConfig,
    corpus: Sequence[str],
    cache_dir: Path,
    loader: Optional[EncoderLoader] = None,
) -> list[Retriever]:
    """One timed retriever per configured name; an encoder named twice is loaded once.

    Document embeddings of every model except BM25 (fitted on the corpus, cheap) are cached under
    ``cache_dir/embeddings`` (``embedding_cache``), so each model encodes a corpus once across indexes.
    """
    from vecbridge.encoders.bm25 import bm25_options

    loader = loader or default_loader
    loaded: dict[tuple, TimedEncoder] = {}
    retrievers = []
    for name, model in config.models.items():
        if name == TEXT:
            retrievers.append(Retriever(TEXT, None, RetrieverKind.TEXT, TEXT))
            continue
        key = (model, config.scripts.get(name))
        if key not in loaded:
            encoder = loader(name, model, corpus, cache_dir)
            cache = None
            if bm25_options(model) is None:
                cache = EmbeddingCache(Path(cache_dir) / "embeddings" / model_fingerprint(identity(encoder, model)))
            loaded[key] = TimedEncoder(encoder, cache)
            if name in config.scripts:
                loaded[key].scripts = parse_scripts(config.scripts[name])
        kind = RetrieverKind.DENSE if name == DENSE else RetrieverKind.SPARSE
        retrievers.append(Retriever(name, loaded[key], kind, name))
    return retrievers


def encode_seconds(retrievers: Sequence[Retriever], queries: bool = False) -> dict[str, float]:
    """Seconds each retriever's encoder spent (an encoder shared by two retrievers is counted for both)."""
    attr = "query_seconds" if queries else "document_seconds"
    return {r.name: float(getattr(r.encoder, attr, 0.0)) for r in retrievers}


def reset_timers(retrievers: Sequence[Retriever]) -> None:
    for r in retrievers:
        if isinstance(r.encoder, TimedEncoder):
            r.encoder.document_seconds = r.encoder.query_seconds = 0.0
