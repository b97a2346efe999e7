"""``load_encoder(name)``: one entry point that picks the adapter from a name or a model folder."""

from __future__ import annotations

import json
from typing import Any

from encoders.base import Encoder
from encoders.loading import resolve_model_path


def _is_masked_lm(name: str) -> bool:
    config = resolve_model_path(name) / "config.json"
    if not config.is_file():
        return False
    architectures = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
    return any(str(a).endswith("ForMaskedLM") for a in architectures)


def load_encoder(name: str, **options: Any) -> Encoder:
    """``"bm25"`` -> unfitted :class:`BM25Encoder`; ``"splade-tiny"`` or a ``*ForMaskedLM`` checkpoint ->
    :class:`SpladeEncoder`; anything else -> :class:`DenseEncoder`. ``options`` go to the constructor."""
    if name.lower() == "bm25":
        from encoders.bm25 import BM25Encoder

        return BM25Encoder(**options)
    if name == "splade-tiny" or _is_masked_lm(name):
        from encoders.splade import SpladeEncoder

        return SpladeEncoder(name, **options)
    from encoders.dense import DenseEncoder

    return DenseEncoder(name, **options)
