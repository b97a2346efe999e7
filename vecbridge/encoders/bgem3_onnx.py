"""BGE-M3 on onnxruntime (CPU): export of the full graph (encoder + both heads), optional int8.

The exported graph takes ``input_ids``/``attention_mask`` (int64 [batch, seq], both axes dynamic) and
returns ``dense`` [B, H] (normalised), ``token_weights`` [B, T] (relu'd sparse head) and ``colbert``
[B, T-1, D] (normalised, padding rows untrimmed) — the same ``RawOutputs`` as the torch network, so
post-processing (``vecbridge.encoders.bgem3_scoring.to_embeddings``) is shared.

Usage::

    from vecbridge.encoders.bgem3 import load_bgem3
    encoder = load_bgem3(path, backend="onnx", quantize="int8", num_threads=2)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal, Optional, Union

import numpy as np

from vecbridge.encoders.base import OutputKind
from vecbridge.encoders.bgem3_base import BGEM3Base
from vecbridge.encoders.bgem3_scoring import RawOutputs
from vecbridge.encoders.export_noise import quiet_export
from vecbridge.encoders.onnx_export import (
    cached_export,
    export_kind,
    model_bytes,
    optimize_graph,
    quantize_int8,
    remove_model,
)
from vecbridge.encoders.onnx_runtime import TextLanes
from vecbridge.schemas import ConfigurationError

INPUT_NAMES = ["input_ids", "attention_mask"]
OUTPUT_NAMES = ["dense", "token_weights", "colbert"]
_OUTPUT_OF = {OutputKind.DENSE: "dense", OutputKind.SPARSE: "token_weights", OutputKind.COLBERT: "colbert"}
_TOKEN_OFFSET = {"dense": None, "token_weights": 0, "colbert": 1}  # pooled; every token; all but [CLS]
EXPORT_KIND = "bgem3-v2"  # v2: SkipLayerNormalization unfused (encoders.onnx_export.optimize_graph)
__all__ = ["BGEM3OnnxEncoder", "export_bgem3_onnx", "quantize_int8", "model_bytes"]


def export_bgem3_onnx(model_path: Path, onnx_path: Path, *, opset: int = 17, optimize: bool = True) -> Path:
    """Export a FlagEmbedding BGE-M3 folder to one fp32 ONNX graph with dynamic batch/sequence axes.

    Uses the TorchScript exporter (``dynamo=False``; the dynamo exporter needs ``onnxscript``). With
    ``optimize``, onnxruntime's BERT fusions (attention, LayerNorm, GELU) are applied afterwards.
    """
    import torch

    from vecbridge.encoders.bgem3_model import load_bgem3_network

    network = load_bgem3_network(model_path, torch.float32, attn_implementation="eager")

    class _Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
            return self.network(input_ids, attention_mask)

    graph = _Graph().eval()  # export restores the wrapper's mode: it must be eval, or dropout turns on
    ids = torch.tensor([[0, 5, 6, 7, 2, 1], [0, 8, 9, 10, 11, 2]], dtype=torch.long)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    raw_path = onnx_path.with_name(onnx_path.stem + ".raw.onnx") if optimize else onnx_path
    with torch.inference_mode(False), torch.no_grad(), quiet_export():
        torch.onnx.export(
            graph,
            (ids, (ids != 1).long()),
            str(raw_path),
            input_names=INPUT_NAMES,
            output_names=OUTPUT_NAMES,
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "dense": {0: "batch"},
                "token_weights": {0: "batch", 1: "sequence"},
                "colbert": {0: "batch", 1: "sequence_minus_1"},
            },
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    if optimize:
        optimize_graph(raw_path, onnx_path, network.encoder.config)  # XLM-RoBERTa: the BERT fusions
        remove_model(raw_path)
    return onnx_path


class BGEM3OnnxEncoder(BGEM3Base):
    """BGE-M3 on onnxruntime's CPU provider; same outputs and post-processing as ``BGEM3Encoder``.

    The graph is exported once into ``onnx_dir`` (default ``<model>/onnx``, or the ONNX cache when the
    model folder is read-only; see ``vecbridge.encoders.onnx_export``), stamped with the weights' hash and reused
    afterwards; ``quantize="int8"`` adds a dynamically quantised copy.

    ``per_text`` (default): each text runs alone, without padding, on the session's threads, so its
    outputs never depend on its batch (the int8 graph needs this: it scales activations per input
    tensor) and no padded token is computed (fp32 at max length 512: faster than length-sorted padded
    batches, CHANGELOG.md, "Why the defaults"). ``per_text=False`` runs fp32 padded batches. ``lanes`` (default 1):
    texts of a batch run that many at once on single-threaded sessions (``TextLanes``), each lane one more
    copy of the graph in memory, opened on the first batch (5h).
    """

    def __init__(
        self,
        model_name_or_path: str = "BAAI/bge-m3",
        *,
        onnx_dir: Optional[Union[str, Path]] = None,
        quantize: Optional[Literal["int8"]] = None,
        num_threads: Optional[int] = None,
        optimize: bool = True,
        outputs: Optional[Iterable[Union[str, OutputKind]]] = None,
        batch_size: int = 32,
        query_max_length: int = 512,
        passage_max_length: int = 512,
        query_instruction: Optional[str] = None,
        progress: bool = False,
        device: str = "cpu",
        per_text: bool = True,
        lanes: int = 1,
    ):
        if device != "cpu":
            raise ConfigurationError(f"the ONNX backend runs on CPU only, got device={device!r}")
        if quantize not in (None, "int8"):
            raise ConfigurationError(f"quantize must be None or 'int8', got {quantize!r}")
        if quantize == "int8" and not per_text:
            raise ConfigurationError(
                "per_text=False needs the fp32 graph: int8 scales activations per input "
                "tensor, so in a padded batch a text's outputs would depend on its batch"
            )
        super().__init__(
            model_name_or_path,
            outputs=outputs,
            batch_size=batch_size,
            query_max_length=query_max_length,
            passage_max_length=passage_max_length,
            query_instruction=query_instruction,
            progress=progress,
        )
        if num_threads is not None and (not isinstance(num_threads, int) or num_threads <= 0):
            raise ConfigurationError(f"num_threads must be a positive int or None, got {num_threads!r}")
        path = self.model_path
        self.onnx_path = cached_export(
            path,
            export_kind(EXPORT_KIND, optimize),
            lambda out: export_bgem3_onnx(path, out, optimize=optimize),
            quantize=quantize,
            cache_dir=onnx_dir,
        )
        # default: texts one after the other on one session; each extra lane holds a copy of this large graph
        self.each_text = TextLanes(self.onnx_path, ["CPUExecutionProvider"], num_threads, lanes=lanes)
        self.session = self.each_text.session
        shapes = {o.name: o.shape for o in self.session.get_outputs()}
        self.dense_dim = int(shapes["dense"][1])
        self.colbert_dim = int(shapes["colbert"][2])
        import json

        self.sparse_vocab_size = int(json.loads((path / "config.json").read_text())["vocab_size"])
        self.quantize = quantize
        self.per_text = per_text  # always True for int8 (per_text=False is refused above)

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray, wanted: frozenset[OutputKind]) -> RawOutputs:
        names = [
            _OUTPUT_OF[kind] for kind in (OutputKind.DENSE, OutputKind.SPARSE, OutputKind.COLBERT) if kind in wanted
        ]
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.per_text:
            outputs = self.each_text.run(
                names, feeds, attention_mask.astype(bool), [_TOKEN_OFFSET[name] for name in names]
            )
        else:
            outputs = self.session.run(names, feeds)
        values = dict(zip(names, outputs, strict=True))
        return RawOutputs(
            dense=values.get("dense"), token_weights=values.get("token_weights"), colbert=values.get("colbert")
        )
