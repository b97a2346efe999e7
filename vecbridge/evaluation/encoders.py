"""Encoder configurations for evaluation: which retrievers exist and which model each one uses."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from encoders import Encoder, OutputKind
from encoders.scripts import parse_scripts
from schemas import ConfigurationError, Embeddings
from vecbridge.index import Retriever

DENSE = "dense"
EncoderLoader = Callable[[str, str, Sequence[str], Path], Encoder]  # (retriever, model, corpus, cache dir)


@dataclass(frozen=True)
class EncoderConfig:
    """Retriever name -> model. ``dense`` is the dense field; every other name is a sparse field.

    ``bm25`` as a model means BM25 statistics fitted on the evaluated corpus.
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

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.name = inner.name
        self.outputs = inner.outputs
        self.dense_dim = inner.dense_dim
        self.sparse_vocab_size = inner.sparse_vocab_size
        self.scripts = getattr(inner, "scripts", None)
        self.document_seconds = 0.0
        self.query_seconds = 0.0

    def encode_documents(self, texts: Sequence[str]) -> Embeddings:
        start = time.perf_counter()
        try:
            return self.inner.encode_documents(texts)
        finally:
            self.document_seconds += time.perf_counter() - start

    def encode_queries(self, texts: Sequence[str]) -> Embeddings:
        start = time.perf_counter()
        try:
            return self.inner.encode_queries(texts)
        finally:
            self.query_seconds += time.perf_counter() - start


def identity(encoder: Encoder, model: str) -> dict[str, Any]:
    """What makes vectors of this encoder reproducible (for the index fingerprint)."""
    inner = getattr(encoder, "inner", encoder)
    out: dict[str, Any] = {"model": model, "class": type(inner).__name__, "name": str(inner.name),
                           "dense_dim": inner.dense_dim}
    for attr in ("k1", "b", "max_length", "query_max_length", "custom_tokenizer", "stemmer", "pooling"):
        value = getattr(inner, attr, None)
        if isinstance(value, (str, int, float, bool)):
            out[attr] = value
    return out


def default_loader(retriever: str, model: str, corpus: Sequence[str], cache_dir: Path) -> Encoder:
    """``bm25``: fitted on ``corpus`` (statistics cached under ``cache_dir``); else ``encoders.factory``."""
    if model == "bm25":
        from encoders.bm25 import BM25Encoder

        path = cache_dir / "bm25"
        if path.exists():
            return BM25Encoder.load(path)
        encoder = BM25Encoder().fit(list(corpus))
        encoder.save(path)
        return encoder
    from encoders.factory import load_encoder

    return load_encoder(model)


def build_retrievers(
    config: EncoderConfig, corpus: Sequence[str], cache_dir: Path, loader: Optional[EncoderLoader] = None,
) -> list[Retriever]:
    """One timed retriever per configured name; an encoder named twice is loaded once."""
    loader = loader or default_loader
    loaded: dict[tuple, TimedEncoder] = {}
    retrievers = []
    for name, model in config.models.items():
        key = (model, config.scripts.get(name))
        if key not in loaded:
            loaded[key] = TimedEncoder(loader(name, model, corpus, cache_dir))
            if name in config.scripts:
                loaded[key].scripts = parse_scripts(config.scripts[name])
        kind = OutputKind.DENSE if name == DENSE else OutputKind.SPARSE
        retrievers.append(Retriever(name, loaded[key], kind, name))  # type: ignore[arg-type]
    return retrievers


def encode_seconds(retrievers: Sequence[Retriever], queries: bool = False) -> dict[str, float]:
    """Seconds each retriever's encoder spent (an encoder shared by two retrievers is counted for both)."""
    attr = "query_seconds" if queries else "document_seconds"
    return {r.name: float(getattr(r.encoder, attr, 0.0)) for r in retrievers}


def reset_timers(retrievers: Sequence[Retriever]) -> None:
    for r in retrievers:
        if isinstance(r.encoder, TimedEncoder):
            r.encoder.document_seconds = r.encoder.query_seconds = 0.0


