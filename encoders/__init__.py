"""Encoders: text -> dense / sparse / ColBERT vectors. Imports ``schemas`` only.

Adapters are imported lazily (PEP 562), so ``import encoders`` never loads torch or transformers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from encoders.base import Encoder, OutputKind, encode_in_batches, encode_rows_in_batches, length_sorted_batches, resolve_device
from encoders.loading import bundled_model_path, resolve_model_path

if TYPE_CHECKING:
    from encoders.bm25 import BM25Encoder, NotFittedError
    from encoders.dense import DenseEncoder
    from encoders.dense_onnx import DenseOnnxEncoder
    from encoders.bgem3 import BGEM3Encoder, load_bgem3
    from encoders.bgem3_rescore import BGEM3Rescorer
    from encoders.factory import load_encoder, load_reranker
    from encoders.reranker import CrossEncoderReranker, Reranker
    from encoders.splade import SpladeEncoder
    from encoders.splade_onnx import SpladeOnnxEncoder

_LAZY = {
    "BM25Encoder": "encoders.bm25",
    "NotFittedError": "encoders.bm25",
    "DenseEncoder": "encoders.dense",
    "DenseOnnxEncoder": "encoders.dense_onnx",
    "SpladeOnnxEncoder": "encoders.splade_onnx",
    "SpladeEncoder": "encoders.splade",
    "load_encoder": "encoders.factory",
    "load_reranker": "encoders.factory",
    "BGEM3Encoder": "encoders.bgem3",
    "load_bgem3": "encoders.bgem3",
    "BGEM3Rescorer": "encoders.bgem3_rescore",
    "CrossEncoderReranker": "encoders.reranker",
    "Reranker": "encoders.reranker",
}

__all__ = [
    "BGEM3Encoder", "BGEM3Rescorer", "BM25Encoder", "CrossEncoderReranker", "DenseEncoder", "DenseOnnxEncoder",
    "Reranker", "SpladeOnnxEncoder",
    "load_bgem3", "load_reranker", "Encoder", "NotFittedError", "OutputKind", "SpladeEncoder",
    "bundled_model_path", "encode_in_batches", "encode_rows_in_batches", "length_sorted_batches", "load_encoder", "resolve_device",
    "resolve_model_path",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'encoders' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
