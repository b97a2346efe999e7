"""Encoders: text -> dense / sparse / ColBERT vectors. Imports ``vecbridge.schemas`` only.

Adapters are imported lazily (PEP 562), so ``import vecbridge.encoders`` never loads torch or transformers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vecbridge.encoders.base import (
    Encoder,
    OutputKind,
    encode_in_batches,
    encode_rows_in_batches,
    length_sorted_batches,
    resolve_device,
)
from vecbridge.encoders.loading import bundled_model_path, resolve_model_path

if TYPE_CHECKING:
    from vecbridge.encoders.bgem3 import BGEM3Encoder, load_bgem3
    from vecbridge.encoders.bgem3_rescore import BGEM3Rescorer
    from vecbridge.encoders.bm25 import BM25Encoder, NotFittedError
    from vecbridge.encoders.bm25_live import LiveBM25Encoder
    from vecbridge.encoders.dense import DenseEncoder
    from vecbridge.encoders.dense_onnx import DenseOnnxEncoder
    from vecbridge.encoders.factory import load_encoder, load_reranker
    from vecbridge.encoders.reranker import CrossEncoderReranker, Reranker
    from vecbridge.encoders.splade import SpladeEncoder
    from vecbridge.encoders.splade_onnx import SpladeOnnxEncoder

_LAZY = {
    "BM25Encoder": "vecbridge.encoders.bm25",
    "NotFittedError": "vecbridge.encoders.bm25",
    "LiveBM25Encoder": "vecbridge.encoders.bm25_live",
    "DenseEncoder": "vecbridge.encoders.dense",
    "DenseOnnxEncoder": "vecbridge.encoders.dense_onnx",
    "SpladeOnnxEncoder": "vecbridge.encoders.splade_onnx",
    "SpladeEncoder": "vecbridge.encoders.splade",
    "load_encoder": "vecbridge.encoders.factory",
    "load_reranker": "vecbridge.encoders.factory",
    "BGEM3Encoder": "vecbridge.encoders.bgem3",
    "load_bgem3": "vecbridge.encoders.bgem3",
    "BGEM3Rescorer": "vecbridge.encoders.bgem3_rescore",
    "CrossEncoderReranker": "vecbridge.encoders.reranker",
    "Reranker": "vecbridge.encoders.reranker",
}

__all__ = [
    "BGEM3Encoder",
    "BGEM3Rescorer",
    "BM25Encoder",
    "CrossEncoderReranker",
    "DenseEncoder",
    "DenseOnnxEncoder",
    "LiveBM25Encoder",
    "Reranker",
    "SpladeOnnxEncoder",
    "load_bgem3",
    "load_reranker",
    "Encoder",
    "NotFittedError",
    "OutputKind",
    "SpladeEncoder",
    "bundled_model_path",
    "encode_in_batches",
    "encode_rows_in_batches",
    "length_sorted_batches",
    "load_encoder",
    "resolve_device",
    "resolve_model_path",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vecbridge.encoders' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
