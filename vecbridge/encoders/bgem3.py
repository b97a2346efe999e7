"""BGE-M3 encoder: dense + sparse (lexical weights) + ColBERT from one forward pass, FlagEmbedding parity.

Usage::

    from vecbridge.encoders.bgem3 import load_bgem3
    encoder = load_bgem3("BAAI/bge-m3")                     # torch; fp16 on CUDA, fp32 on CPU
    encoder = load_bgem3(path, backend="onnx", quantize="int8")  # onnxruntime on CPU
    docs = encoder.encode_documents(texts)                   # Embeddings(dense, sparse, colbert)
    scores = encoder.compute_score([(query, passage)])       # like BGEM3FlagModel.compute_score
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any, Literal, Optional, Union

import numpy as np

from vecbridge.encoders.base import OutputKind, resolve_device
from vecbridge.encoders.bgem3_base import ALL_OUTPUTS, BGEM3Base, _check_positive, parse_outputs
from vecbridge.encoders.bgem3_scoring import RawOutputs
from vecbridge.schemas import ConfigurationError

__all__ = ["ALL_OUTPUTS", "BACKENDS", "PRECISIONS", "BGEM3Base", "BGEM3Encoder", "load_bgem3", "parse_outputs"]

PRECISIONS = ("auto", "fp32", "fp16", "bf16")
BACKENDS = ("torch", "onnx")


class BGEM3Encoder(BGEM3Base):
    """BGE-M3 on PyTorch: fp16 on CUDA and fp32 on CPU by default (``precision="bf16"`` = CPU autocast)."""

    def __init__(
        self,
        model_name_or_path: str = "BAAI/bge-m3",
        *,
        device: str = "auto",
        precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto",
        num_threads: Optional[int] = None,
        outputs: Optional[Iterable[Union[str, OutputKind]]] = None,
        batch_size: int = 32,
        query_max_length: int = 512,
        passage_max_length: int = 512,
        query_instruction: Optional[str] = None,
        progress: bool = False,
        attn_implementation: Optional[str] = "sdpa",
    ):
        import torch

        from vecbridge.encoders.bgem3_model import load_bgem3_network

        if precision not in PRECISIONS:
            raise ConfigurationError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        super().__init__(
            model_name_or_path,
            outputs=outputs,
            batch_size=batch_size,
            query_max_length=query_max_length,
            passage_max_length=passage_max_length,
            query_instruction=query_instruction,
            progress=progress,
        )
        self.device = resolve_device(device)
        if num_threads is not None:
            torch.set_num_threads(_check_positive("num_threads", num_threads))
        on_cuda = self.device.startswith("cuda")
        if precision == "auto":
            precision = "fp16" if on_cuda else "fp32"
        if precision == "fp16" and not on_cuda:
            raise ConfigurationError("precision='fp16' needs a CUDA device; use 'fp32' or 'bf16' on CPU")
        self.precision = precision
        weights_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16 if on_cuda else torch.float32}.get(
            precision, torch.float32
        )
        self.network = load_bgem3_network(self.model_path, weights_dtype, attn_implementation).to(self.device)
        self.dense_dim = int(self.network.encoder.config.hidden_size)
        self.colbert_dim = int(self.network.colbert_linear.out_features)
        self.sparse_vocab_size = int(self.network.encoder.config.vocab_size)

    def _autocast(self) -> Any:
        import torch

        if self.precision == "bf16" and not self.device.startswith("cuda"):
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray, wanted: frozenset[OutputKind]) -> RawOutputs:
        import torch

        def numpy(t: Optional[torch.Tensor]) -> Optional[np.ndarray]:
            return None if t is None else t.float().cpu().numpy()

        with torch.inference_mode(), self._autocast():
            dense, weights, colbert = self.network(
                torch.from_numpy(input_ids).to(self.device),
                torch.from_numpy(attention_mask).to(self.device),
                dense=OutputKind.DENSE in wanted,
                sparse=OutputKind.SPARSE in wanted,
                colbert=OutputKind.COLBERT in wanted,
            )
        return RawOutputs(dense=numpy(dense), token_weights=numpy(weights), colbert=numpy(colbert))


def load_bgem3(
    model_name_or_path: str = "BAAI/bge-m3", backend: Literal["torch", "onnx"] = "torch", **kwargs: Any
) -> BGEM3Base:
    """A BGE-M3 encoder on ``backend``: ``torch`` (``BGEM3Encoder``) or ``onnx`` (``BGEM3OnnxEncoder``)."""
    if backend == "torch":
        return BGEM3Encoder(model_name_or_path, **kwargs)
    if backend == "onnx":
        from vecbridge.encoders.bgem3_onnx import BGEM3OnnxEncoder

        return BGEM3OnnxEncoder(model_name_or_path, **kwargs)
    raise ConfigurationError(f"backend must be one of {BACKENDS}, got {backend!r}")
