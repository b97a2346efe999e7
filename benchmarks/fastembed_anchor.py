"""fastembed as the anchor of the benchmarks: the pipeline a performance-minded user would write
(fastembed's ``TextEmbedding`` on ONNX Runtime + pymilvus), on the bundled all-MiniLM-L6-v2, offline.

fastembed loads a local folder (``specific_model_path``) holding ``model.onnx`` and the tokenizer files.
``fastembed_folder`` builds one beside the ONNX exports vecbridge already made:

- ``graph="fp32"``: vecbridge's fp32 export (what fastembed runs by default for this model: an fp32 graph);
- ``graph="int8"``: vecbridge's own int8 graph (``model.int8-v2.onnx``) given as ``model.onnx``, the fair
  comparison, since any user can hand it to fastembed.

Both truncate at the model's ``max_seq_length`` (256), as vecbridge does (fastembed's default would be the
tokenizer's 512), so the vectors are the same model's: fp32 equals vecbridge's fp32 to cosine ~1.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from vecbridge.encoders import OutputKind
from vecbridge.schemas import Embeddings

MODEL = "all-MiniLM-L6-v2"
FASTEMBED_NAME = "sentence-transformers/all-MiniLM-L6-v2"
TOKENIZER_FILES = ("tokenizer.json", "config.json", "special_tokens_map.json", "tokenizer_config.json")
GRAPHS = ("fp32", "int8")


def vecbridge_graph(graph: str) -> tuple[Path, Path, int]:
    """(model folder, vecbridge's ONNX graph of that kind, max length) for the bundled MiniLM."""
    from vecbridge.encoders import load_encoder

    if graph not in GRAPHS:
        raise ValueError(f"graph must be one of {GRAPHS}, got {graph!r}")
    encoder = load_encoder(MODEL, backend="onnx", **({"quantize": "int8"} if graph == "int8" else {}))
    return encoder.folder, Path(encoder.onnx_path), encoder.max_length


def fastembed_folder(graph: str, root: Path) -> tuple[Path, int]:
    """A folder fastembed can load offline: ``model.onnx`` (a link to vecbridge's ``graph``) plus the
    tokenizer files, ``model_max_length`` set to vecbridge's max length. Returns (folder, max length)."""
    folder, onnx_path, max_length = vecbridge_graph(graph)
    out = root / f"fastembed-{graph}"
    out.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        target = out / name
        if name == "tokenizer_config.json":
            config = json.loads((folder / name).read_text(encoding="utf-8"))
            config["model_max_length"] = max_length
            target.write_text(json.dumps(config), encoding="utf-8")
        elif not target.exists():
            os.symlink(folder / name, target)
    link = out / "model.onnx"
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(onnx_path, link)
    return out, max_length


def load_fastembed(graph: str, root: Path, threads: Optional[int] = None) -> Any:
    """fastembed's ``TextEmbedding`` on ``fastembed_folder(graph)``, truncating at vecbridge's max length."""
    from fastembed import TextEmbedding

    folder, max_length = fastembed_folder(graph, root)
    model = TextEmbedding(model_name=FASTEMBED_NAME, specific_model_path=str(folder), threads=threads)
    tokenizer = model.model.tokenizer  # what fastembed truncates with; checked, not assumed
    truncation = tokenizer.truncation or {}
    if truncation.get("max_length") != max_length:
        tokenizer.enable_truncation(max_length=max_length)
    return model


def embed(model: Any, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """fastembed's document vectors as one float32 array (its default batch size, 256)."""
    return np.stack(list(model.embed(list(texts), batch_size=batch_size))).astype(np.float32, copy=False)


class FastembedEncoder:
    """A fastembed model behind vecbridge's encoder interface, for the evaluation tools (dense only)."""

    outputs = frozenset({OutputKind.DENSE})
    sparse_vocab_size: Optional[int] = None

    def __init__(self, graph: str, root: Path, threads: Optional[int] = None) -> None:
        self.model = load_fastembed(graph, root, threads)
        self.name = f"fastembed-{graph}"
        self.dense_dim = 384

    def encode_documents(self, texts: Sequence[str]) -> Embeddings:
        return Embeddings(dense=embed(self.model, texts))

    def encode_queries(self, texts: Sequence[str]) -> Embeddings:
        vectors = np.stack(list(self.model.query_embed(list(texts))))
        return Embeddings(dense=vectors.astype(np.float32, copy=False))
