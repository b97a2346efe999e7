"""onnxruntime sessions for the ONNX encoders: execution providers, threads, and the model object the
encoders keep where the torch adapters keep a ``transformers`` model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from encoders.onnx_export import INT8_FILE
from schemas import ConfigurationError


DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]
"""onnxruntime graph rewrites left off: the fused SkipLayerNormalization kernel is slower on CPU than the
Add + LayerNormalization it replaces (``encoders.onnx_export.unfuse_skip_layer_norm``)."""


def resolve_providers(providers: Optional[Sequence[str]] = None) -> list[str]:
    """``None``: CUDA (then CPU) when onnxruntime has CUDA, else CPU; otherwise checked as given."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if providers is None:
        wanted = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        return [p for p in wanted if p in available] or ["CPUExecutionProvider"]
    if isinstance(providers, str):
        providers = [providers]
    missing = [p for p in providers if p not in available]
    if missing or not providers:
        raise ConfigurationError(f"providers={list(providers)!r}: onnxruntime here offers {available}")
    return list(providers)


def open_session(path: Path, providers: Optional[Sequence[str]] = None, num_threads: Optional[int] = None) -> Any:
    """An ``onnxruntime.InferenceSession`` with all graph optimizations but ``DISABLED_OPTIMIZERS`` and
    ``num_threads`` intra-op threads."""
    import onnxruntime as ort

    if num_threads is not None and (not isinstance(num_threads, int) or num_threads <= 0):
        raise ConfigurationError(f"num_threads must be a positive int or None, got {num_threads!r}")
    options = ort.SessionOptions()
    if num_threads is not None:
        options.intra_op_num_threads = num_threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=resolve_providers(providers),
                                disabled_optimizers=DISABLED_OPTIMIZERS)


class OnnxModel:
    """A session plus the checkpoint's ``config``: what the ONNX encoders keep where torch keeps the model.

    ``per_text``: run each text of a batch alone, without its padding; on for the dynamically quantized
    graph (``INT8_FILE``), which needs it: ``DynamicQuantizeLinear`` takes one scale per input *tensor*,
    so in a batch a text's vector would depend on the other texts (and on their padding). Alone, it
    depends on the text only.
    """

    def __init__(self, path: Path, config: Any, providers: Optional[Sequence[str]] = None,
                 num_threads: Optional[int] = None) -> None:
        self.path = path
        self.config = config
        self.per_text = Path(path).name == INT8_FILE
        self.session = open_session(path, providers, num_threads)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.providers = self.session.get_providers()
        self.output_ranks = {o.name: len(o.shape) for o in self.session.get_outputs()}

    def run(self, output: str, encoded: Any) -> Any:
        """``output`` for a tokenizer's numpy batch (with ``attention_mask``); feeds only the inputs the graph
        declares (int64). Per-text runs return per-token outputs at the batch's positions (zeros at padding)."""
        import numpy as np

        feeds = {name: np.asarray(encoded[name], dtype=np.int64) for name in self.input_names}
        if not self.per_text:
            return self.session.run([output], feeds)[0]
        keep = np.asarray(encoded["attention_mask"]).astype(bool)  # a text's tokens, wherever the padding is
        per_token = self.output_ranks[output] >= 3  # [batch, tokens, ...]; pooled outputs are [batch, ...]
        return run_each_text(self.session, [output], feeds, keep, [0 if per_token else None])[0]


def run_each_text(session: Any, outputs: Sequence[str], feeds: dict[str, Any], keep: Any,
                  token_offsets: Sequence[Optional[int]]) -> list[Any]:
    """``session.run(outputs, feeds)`` for a padded batch, run one text at a time without its padding
    (``keep``: the attention mask as bool), so each text's outputs depend on that text alone.

    Outputs come back at the batch's positions: ``token_offsets[j]`` None for a pooled output
    (``[1, ...]`` per text -> ``[batch, ...]``); else output ``j`` holds one row per token from that
    offset on (0: every token; 1: all but the first, like BGE-M3's ColBERT vectors, which needs the
    padding on the right) -> ``[batch, length - offset, ...]`` with zeros at padding.
    """
    import numpy as np

    rows = [session.run(list(outputs), {name: value[i : i + 1, keep[i]] for name, value in feeds.items()})
            for i in range(len(keep))]
    results = []
    for j, offset in enumerate(token_offsets):
        parts = [row[j] for row in rows]
        if offset is None:
            results.append(np.concatenate(parts))
            continue
        out = np.zeros((keep.shape[0], keep.shape[1] - offset, *parts[0].shape[2:]), dtype=parts[0].dtype)
        for i, part in enumerate(parts):
            out[i, keep[i, offset:]] = part[0]
        results.append(out)
    return results
