"""SPLADE on onnxruntime: optimum's fill-mask export plus the SPLADE pooling as graph nodes.

The pooling (``max_t log(1 + relu(logits)) * mask``) is appended to the exported graph, so the
session returns ``[batch, vocab]`` weights instead of copying ``[batch, tokens, vocab]`` logits out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from encoders.onnx_export import cached_export, export_transformer
from encoders.onnx_runtime import OnnxModel
from encoders.splade import SpladeEncoder
from schemas import Embeddings, SparseVector

EXPORT_KIND = "splade-v1"
WEIGHTS = "splade_weights"


def add_splade_pooling(model: Any, logits: str = "logits", mask: str = "attention_mask") -> Any:
    """Replace the graph outputs of ``model`` (onnx.ModelProto) by ``WEIGHTS`` = SPLADE max pooling."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    graph.initializer.extend([
        numpy_helper.from_array(np.array(1.0, dtype=np.float32), "splade_one"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "splade_last_axis"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "splade_token_axis"),
    ])
    reduce = (helper.make_node("ReduceMax", ["splade_masked", "splade_token_axis"], [WEIGHTS], keepdims=0)
              if opset >= 18 else helper.make_node("ReduceMax", ["splade_masked"], [WEIGHTS], axes=[1], keepdims=0))
    graph.node.extend([
        helper.make_node("Relu", [logits], ["splade_relu"]),
        helper.make_node("Add", ["splade_relu", "splade_one"], ["splade_plus_one"]),
        helper.make_node("Log", ["splade_plus_one"], ["splade_log1p"]),
        helper.make_node("Cast", [mask], ["splade_mask_float"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["splade_mask_float", "splade_last_axis"], ["splade_mask3"]),
        helper.make_node("Mul", ["splade_log1p", "splade_mask3"], ["splade_masked"]),
        reduce,
    ])
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(WEIGHTS, TensorProto.FLOAT, ["batch_size", "vocab"]))
    return model


class SpladeOnnxEncoder(SpladeEncoder):
    """``SpladeEncoder`` whose forward pass and pooling are one onnxruntime session."""

    def __init__(
        self, model: str = "splade-tiny", *, quantize: Optional[str] = None,
        providers: Optional[Sequence[str]] = None, num_threads: Optional[int] = None,
        cache_dir: Optional[str | Path] = None, optimize: bool = True, **options: Any,
    ) -> None:
        self.quantize, self.providers, self.num_threads = quantize, providers, num_threads
        self.cache_dir, self.optimize = cache_dir, optimize
        options.setdefault("device", "cpu")
        super().__init__(model, **options)

    def _load_model(self) -> tuple[Any, Any]:
        from transformers import AutoConfig, AutoTokenizer

        kind = EXPORT_KIND if self.optimize else EXPORT_KIND + "-noopt"
        build = lambda out: export_transformer(  # noqa: E731
            self.folder, out, "fill-mask", optimize=self.optimize, transform=add_splade_pooling)
        self.onnx_path = cached_export(self.folder, kind, build, quantize=self.quantize, cache_dir=self.cache_dir)
        config = AutoConfig.from_pretrained(str(self.folder))
        model = OnnxModel(self.onnx_path, config, self.providers, self.num_threads)
        return AutoTokenizer.from_pretrained(str(self.folder)), model

    def _encode_batch(self, texts: list[str]) -> Embeddings:
        encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="np")
        pooled = self.model.run(WEIGHTS, encoded)
        if self.special_ids:
            pooled[:, self.special_ids] = 0
        vectors = []
        for row in pooled:
            (ids,) = np.nonzero(row)
            vectors.append(SparseVector(indices=ids, values=row[ids]))
        return Embeddings(sparse=vectors)
