"""SPLADE on onnxruntime: optimum's fill-mask export plus the SPLADE pooling as graph nodes.

The session returns ``[batch, vocab]`` weights, never ``[batch, tokens, vocab]`` logits, and the
graph holds one such buffer (the decoder's MatMul output), the torch path's footprint. Exact rewrites:

- ``log(1 + relu(.))`` is monotonic and >= 0, so ``max_t log1p(relu(x_t)) * mask_t`` equals
  ``log1p(relu(max_{t unmasked} x_t))``: the max is taken on raw logits, the rest on ``[batch, vocab]``;
- the decoder bias is the same for every token, so it is added after the max (rounding is monotonic);
- padding is masked before the decoder: a padded position's hidden state is replaced by position 0's
  ([CLS], never padding with right padding), whose logits are already in the max.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from vecbridge.encoders import _hf
from vecbridge.encoders.onnx_export import cached_export, export_kind, export_transformer
from vecbridge.encoders.onnx_runtime import OnnxModel
from vecbridge.encoders.splade import SpladeEncoder
from vecbridge.schemas import ConfigurationError, Embeddings, SparseVector

EXPORT_KIND = "splade-v5"  # v5: SkipLayerNormalization unfused
WEIGHTS = "splade_weights"


def _producer(graph: Any, name: str) -> Optional[Any]:
    return next((n for n in graph.node if name in n.output), None)


def _split_output_bias(graph: Any, logits: str) -> tuple[str, Optional[str]]:
    """``(pre-bias tensor, bias initializer)`` when ``logits`` is ``Add(x, bias[vocab])`` used nowhere
    else (the Add is removed); otherwise ``(logits, None)``."""
    producer = _producer(graph, logits)
    vectors = {i.name for i in graph.initializer if len(i.dims) == 1}
    if producer is None or producer.op_type != "Add" or len(producer.input) != 2:
        return logits, None
    bias = [name for name in producer.input if name in vectors]
    other = [name for name in producer.input if name not in vectors]
    if len(bias) != 1 or len(other) != 1 or any(logits in n.input for n in graph.node if n is not producer):
        return logits, None
    graph.node.remove(producer)
    return other[0], bias[0]


def add_splade_pooling(model: Any, logits: str = "logits", mask: str = "attention_mask") -> Any:
    """Replace the graph outputs of ``model`` (onnx.ModelProto) by ``WEIGHTS`` = SPLADE max pooling."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    scores, bias = _split_output_bias(graph, logits)
    decoder = _producer(graph, scores)
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(1.0, dtype=np.float32), "splade_one"),
            numpy_helper.from_array(np.array(0, dtype=np.int64), "splade_first"),
            numpy_helper.from_array(np.array([-1], dtype=np.int64), "splade_last_axis"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "splade_token_axis"),
        ]
    )
    masking = [
        helper.make_node("Cast", [mask], ["splade_mask_bool"], to=TensorProto.BOOL),
        helper.make_node("Unsqueeze", ["splade_mask_bool", "splade_last_axis"], ["splade_mask3"]),
    ]
    if decoder is not None and decoder.op_type == "MatMul":  # mask the [batch, tokens, hidden] input
        hidden = decoder.input[0]
        masking += [
            helper.make_node("Gather", [hidden, "splade_first"], ["splade_cls"], axis=1),
            helper.make_node("Unsqueeze", ["splade_cls", "splade_token_axis"], ["splade_cls3"]),
            helper.make_node("Where", ["splade_mask3", hidden, "splade_cls3"], ["splade_hidden"]),
        ]
        decoder.input[0] = "splade_hidden"
        position = list(graph.node).index(decoder)
        nodes = list(graph.node)
        del graph.node[:]
        graph.node.extend(nodes[:position] + masking + nodes[position:])
        masked = scores
    else:  # mask the logits themselves
        graph.initializer.append(numpy_helper.from_array(np.array(-np.inf, dtype=np.float32), "splade_minus_inf"))
        graph.node.extend(
            [*masking, helper.make_node("Where", ["splade_mask3", scores, "splade_minus_inf"], ["splade_masked"])]
        )
        masked = "splade_masked"
    reduced = "splade_max_raw" if bias else "splade_max"
    graph.node.extend(
        [
            helper.make_node("ReduceMax", [masked, "splade_token_axis"], [reduced], keepdims=0)
            if opset >= 18
            else helper.make_node("ReduceMax", [masked], [reduced], axes=[1], keepdims=0),
            *([helper.make_node("Add", [reduced, bias], ["splade_max"])] if bias else []),
            helper.make_node("Relu", ["splade_max"], ["splade_relu"]),
            helper.make_node("Add", ["splade_relu", "splade_one"], ["splade_plus_one"]),
            helper.make_node("Log", ["splade_plus_one"], [WEIGHTS]),
        ]
    )
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(WEIGHTS, TensorProto.FLOAT, ["batch_size", "vocab"]))
    return model


class SpladeOnnxEncoder(SpladeEncoder):
    """``SpladeEncoder`` whose forward pass and pooling are one onnxruntime session."""

    def __init__(
        self,
        model: str = "splade-tiny",
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

    def _load_model(self) -> tuple[Any, Any]:
        from transformers import AutoConfig

        kind = export_kind(EXPORT_KIND, self.optimize)
        build = lambda out: export_transformer(  # noqa: E731
            self.folder, out, "fill-mask", optimize=self.optimize, transform=add_splade_pooling
        )
        self.onnx_path = cached_export(self.folder, kind, build, quantize=self.quantize, cache_dir=self.cache_dir)
        config = AutoConfig.from_pretrained(str(self.folder))
        tokenizer = _hf.load_tokenizer(self.folder)  # shared by threads
        if getattr(tokenizer, "padding_side", "right") != "right":
            raise ConfigurationError(
                f"{self.folder}: the SPLADE ONNX graph needs right padding, the tokenizer "
                f"pads {tokenizer.padding_side!r}"
            )
        return tokenizer, OnnxModel(self.onnx_path, config, self.providers, self.num_threads)

    def _encode_padded(self, encoded: dict[str, Any]) -> Embeddings:
        pooled = self.model.run(WEIGHTS, encoded)
        if self.special_ids:
            pooled[:, self.special_ids] = 0
        vectors = []
        for row in pooled:
            (ids,) = np.nonzero(row)
            vectors.append(SparseVector(indices=ids, values=row[ids]))
        return Embeddings(sparse=vectors)
