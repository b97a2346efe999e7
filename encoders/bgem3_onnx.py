"""BGE-M3 on onnxruntime (CPU): export of the full graph (encoder + both heads), optional int8.

The exported graph takes ``input_ids``/``attention_mask`` (int64 [batch, seq], both axes dynamic) and
returns ``dense`` [B, H] (normalised), ``token_weights`` [B, T] (relu'd sparse head) and ``colbert``
[B, T-1, D] (normalised, padding rows untrimmed) — the same ``RawOutputs`` as the torch network, so
post-processing (``encoders.bgem3_scoring.to_embeddings``) is shared.

Usage::

    from encoders.bgem3 import load_bgem3
    encoder = load_bgem3(path, backend="onnx", quantize="int8", num_threads=2)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, Optional, Union

import numpy as np

from encoders.base import OutputKind
from encoders.bgem3 import BGEM3Base
from encoders.bgem3_scoring import RawOutputs
from schemas import ConfigurationError

logger = logging.getLogger(__name__)

INPUT_NAMES = ["input_ids", "attention_mask"]
OUTPUT_NAMES = ["dense", "token_weights", "colbert"]
_OUTPUT_OF = {OutputKind.DENSE: "dense", OutputKind.SPARSE: "token_weights", OutputKind.COLBERT: "colbert"}
_TWO_GB = 2**31 - 1


def export_bgem3_onnx(model_path: Path, onnx_path: Path, *, opset: int = 17, optimize: bool = True) -> Path:
    """Export a FlagEmbedding BGE-M3 folder to one fp32 ONNX graph with dynamic batch/sequence axes.

    Uses the TorchScript exporter (``dynamo=False``; the dynamo exporter needs ``onnxscript``). With
    ``optimize``, onnxruntime's BERT fusions (attention, LayerNorm, GELU) are applied afterwards.
    """
    import torch

    from encoders.bgem3_model import load_bgem3_network

    network = load_bgem3_network(model_path, torch.float32, attn_implementation="eager")

    class _Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):  # type: ignore[override]
            return self.network(input_ids, attention_mask)

    graph = _Graph().eval()  # export restores the wrapper's mode: it must be eval, or dropout turns on
    ids = torch.tensor([[0, 5, 6, 7, 2, 1], [0, 8, 9, 10, 11, 2]], dtype=torch.long)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    raw_path = onnx_path.with_name(onnx_path.stem + ".raw.onnx") if optimize else onnx_path
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(
            graph, (ids, (ids != 1).long()), str(raw_path), input_names=INPUT_NAMES, output_names=OUTPUT_NAMES,
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                "dense": {0: "batch"}, "token_weights": {0: "batch", 1: "sequence"},
                "colbert": {0: "batch", 1: "sequence_minus_1"},
            },
            opset_version=opset, do_constant_folding=True, dynamo=False,
        )
    if optimize:
        from onnxruntime.transformers.optimizer import optimize_model

        config = network.encoder.config
        optimized = optimize_model(
            str(raw_path), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size,
        )
        optimized.save_model_to_file(str(onnx_path), use_external_data_format=_model_bytes(raw_path) > _TWO_GB)
        _remove_model(raw_path)
    return onnx_path


def quantize_int8(fp32_path: Path, int8_path: Path) -> Path:
    """Dynamic int8 quantisation of the MatMul weights (``onnxruntime.quantization.quantize_dynamic``)."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fp32_path), str(int8_path), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
        use_external_data_format=_model_bytes(fp32_path) > _TWO_GB,
        extra_options={"DefaultTensorType": TensorProto.FLOAT},  # fused ops (com.microsoft) lack inferred types
    )
    return int8_path


def _model_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.iterdir() if p.name.startswith(path.name))


def _remove_model(path: Path) -> None:
    for p in path.parent.iterdir():
        if p.name.startswith(path.name):
            p.unlink()


class BGEM3OnnxEncoder(BGEM3Base):
    """BGE-M3 on onnxruntime's CPU provider; same outputs and post-processing as ``BGEM3Encoder``.

    The graph is exported once into ``onnx_dir`` (default ``<model>/onnx``) and reused afterwards;
    ``quantize="int8"`` adds a dynamically quantised copy.
    """

    def __init__(
        self, model_name_or_path: str = "BAAI/bge-m3", *, onnx_dir: Optional[Union[str, Path]] = None,
        quantize: Optional[Literal["int8"]] = None, num_threads: Optional[int] = None, optimize: bool = True,
        outputs: Optional[Iterable[Union[str, OutputKind]]] = None, batch_size: int = 32,
        query_max_length: int = 512, passage_max_length: int = 512, query_instruction: Optional[str] = None,
        progress: bool = False, device: str = "cpu",
    ):
        import onnxruntime as ort

        if device != "cpu":
            raise ConfigurationError(f"the ONNX backend runs on CPU only, got device={device!r}")
        if quantize not in (None, "int8"):
            raise ConfigurationError(f"quantize must be None or 'int8', got {quantize!r}")
        if num_threads is not None and (not isinstance(num_threads, int) or num_threads <= 0):
            raise ConfigurationError(f"num_threads must be a positive int or None, got {num_threads!r}")
        super().__init__(
            model_name_or_path, outputs=outputs, batch_size=batch_size,
            query_max_length=query_max_length, passage_max_length=passage_max_length,
            query_instruction=query_instruction, progress=progress,
        )
        path = self.model_path
        folder = Path(onnx_dir) if onnx_dir is not None else path / "onnx"
        self.onnx_path = self._prepare(path, folder, quantize, optimize)
        options = ort.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = num_threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(self.onnx_path), options, providers=["CPUExecutionProvider"])
        shapes = {o.name: o.shape for o in self.session.get_outputs()}
        self.dense_dim = int(shapes["dense"][1])
        self.colbert_dim = int(shapes["colbert"][2])
        import json

        self.sparse_vocab_size = int(json.loads((path / "config.json").read_text())["vocab_size"])
        self.quantize = quantize

    @staticmethod
    def _prepare(path: Path, folder: Path, quantize: Optional[str], optimize: bool) -> Path:
        fp32 = folder / ("model.onnx" if optimize else "model.unoptimized.onnx")
        try:
            if not fp32.is_file():
                logger.info("exporting BGE-M3 %s to ONNX at %s", path, fp32)
                export_bgem3_onnx(path, fp32, optimize=optimize)
            if quantize != "int8":
                return fp32
            int8 = fp32.with_name(fp32.stem + ".int8.onnx")
            if not int8.is_file():
                quantize_int8(fp32, int8)
            return int8
        except PermissionError as exc:
            raise ConfigurationError(
                f"cannot write the ONNX export into {str(folder)!r} ({exc}); pass onnx_dir= a writable folder"
            ) from exc

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray, wanted: frozenset[OutputKind]) -> RawOutputs:
        names = [_OUTPUT_OF[kind] for kind in (OutputKind.DENSE, OutputKind.SPARSE, OutputKind.COLBERT) if kind in wanted]
        values = dict(zip(names, self.session.run(names, {"input_ids": input_ids, "attention_mask": attention_mask})))
        return RawOutputs(dense=values.get("dense"), token_weights=values.get("token_weights"),
                          colbert=values.get("colbert"))
