"""Dense sentence-transformers models on onnxruntime: same folder config and outputs as ``DenseEncoder``.

The transformer is exported once by optimum (``vecbridge.encoders.onnx_export``, cached and hash-stamped);
pooling and normalization run in numpy on ``last_hidden_state``, exactly as the torch path does.

Usage::

    encoder = load_encoder("all-MiniLM-L6-v2", backend="onnx", quantize="int8", num_threads=2)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from vecbridge.encoders import _hf
from vecbridge.encoders.dense import DenseEncoder
from vecbridge.encoders.onnx_export import cached_export, export_kind, export_transformer
from vecbridge.encoders.onnx_runtime import OnnxModel
from vecbridge.schemas import Embeddings

EXPORT_KIND = "dense-v2"  # v2: SkipLayerNormalization unfused


class DenseOnnxEncoder(DenseEncoder):
    """``DenseEncoder`` whose forward pass is an onnxruntime session (fp32, or int8 with ``quantize``)."""

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        *,
        quantize: Optional[str] = None,
        providers: Optional[Sequence[str]] = None,
        num_threads: Optional[int] = None,
        cache_dir: Optional[str | Path] = None,
        optimize: bool = True,
        **options: Any,
    ) -> None:
        self.quantize, self.providers, self.num_threads = quantize, providers, num_threads
        self.cache_dir, self.optimize = cache_dir, optimize
        options.setdefault("device", "cpu")
        super().__init__(model, **options)

    def _load_model(self, folder: Path) -> tuple[Any, Any]:
        from transformers import AutoConfig

        kind = export_kind(EXPORT_KIND, self.optimize)
        path = cached_export(
            self.folder,
            kind,
            lambda out: export_transformer(folder, out, "feature-extraction", optimize=self.optimize),
            quantize=self.quantize,
            cache_dir=self.cache_dir,
        )
        self.onnx_path = path
        config = AutoConfig.from_pretrained(str(folder))
        return _hf.load_tokenizer(folder), OnnxModel(path, config, self.providers, self.num_threads)

    def _encode_padded(self, encoded: dict[str, Any]) -> Embeddings:
        tokens = self.model.run("last_hidden_state", encoded)
        if self.pooling == "cls":
            pooled = tokens[:, 0]
        else:
            mask = encoded["attention_mask"][..., None].astype(tokens.dtype)
            pooled = (tokens * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
        if self.normalize:  # torch.nn.functional.normalize: x / max(||x||, 1e-12)
            pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return Embeddings(dense=np.ascontiguousarray(pooled, dtype=np.float32))
