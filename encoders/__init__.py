"""Encoders: text -> dense / sparse / ColBERT vectors. Imports ``schemas`` only.

Adapters are imported lazily (PEP 562), so ``import encoders`` never loads torch or transformers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from encoders.base import Encoder, OutputKind, encode_in_batches, length_sorted_batches, resolve_device
from encoders.loading import bundled_model_path, resolve_model_path

if TYPE_CHECKING:
    from encoders.bm25 import BM25Encoder, NotFittedError
    from encoders.dense import DenseEncoder
    from encoders.factory import load_encoder
    from encoders.splade import SpladeEncoder

_LAZY = {
    "BM25Encoder": "encoders.bm25",
    "NotFittedError": "encoders.bm25",
    "DenseEncoder": "encoders.dense",
    "SpladeEncoder": "encoders.splade",
    "load_encoder": "encoders.factory",
}

__all__ = [
    "BM25Encoder", "DenseEncoder", "Encoder", "NotFittedError", "OutputKind", "SpladeEncoder",
    "bundled_model_path", "encode_in_batches", "length_sorted_batches", "load_encoder", "resolve_device",
    "resolve_model_path",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'encoders' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
