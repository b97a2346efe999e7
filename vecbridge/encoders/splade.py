"""SPLADE learned sparse encoder: ``max_tokens log(1 + relu(MLM logits))`` over the vocabulary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from vecbridge.encoders import _hf
from vecbridge.encoders.base import OutputKind, resolve_device
from vecbridge.encoders.coverage import Coverage, static_coverage
from vecbridge.encoders.loading import resolve_model_path
from vecbridge.encoders.scripts import Scripts
from vecbridge.schemas import ConfigurationError, Embeddings, SparseVector


def splade_pool(logits: Any, attention_mask: Any, drop_ids: Sequence[int]) -> Any:
    """``[batch, vocab]`` weights: max over unmasked tokens of ``log1p(relu(logits))``; ``drop_ids`` zeroed.

    Works in place on ``logits`` (``[batch, tokens, vocab]``) to keep memory at one logits tensor.
    """
    weights = logits.relu_().log1p_()
    weights.mul_(attention_mask.unsqueeze(-1).to(weights.dtype))
    pooled = weights.amax(dim=1)
    if len(drop_ids):
        pooled[:, list(drop_ids)] = 0
    return pooled


class SpladeEncoder:
    """SPLADE over a ``*ForMaskedLM`` checkpoint; queries and documents are encoded alike.

    Special tokens (``[CLS]``, ``[SEP]``, ``[PAD]``, ``[UNK]``, ``[MASK]``) are never output terms.
    """

    runs_uncovered = False  # its expansions of an untrained language are noise (encoders/coverage.py)

    outputs = frozenset({OutputKind.SPARSE})
    dense_dim: Optional[int] = None

    def __init__(
        self,
        model: str = "splade-tiny",
        *,
        max_length: Optional[int] = 256,
        batch_size: int = 16,
        device: str = "auto",
        progress: bool = False,
        name: Optional[str] = None,
        scripts: Optional[Sequence[str]] = None,
    ) -> None:
        if batch_size <= 0:
            raise ConfigurationError(f"batch_size must be > 0, got {batch_size!r}")
        self.folder = resolve_model_path(model)
        self.device = resolve_device(device)
        self.tokenizer, self.model = self._load_model()
        self.max_length = _hf.check_max_length(max_length, self.tokenizer, self.model, None)
        self.special_ids = sorted(set(self.tokenizer.all_special_ids))
        self.sparse_vocab_size: Optional[int] = int(self.model.config.vocab_size)
        self.batch_size, self.progress = batch_size, progress
        self.name = name or model
        # Languages it covers and why: configured, alias, model card, vocabulary (encoders/coverage.py);
        # ``load_encoder`` may narrow it with a load-time probe (encoders/probe.py).
        self.coverage: Coverage = static_coverage(model, self.folder, self.tokenizer, scripts)
        self.scripts: Scripts = self.coverage.scripts

    def _load_model(self) -> tuple[Any, Any]:
        """Tokenizer and model (anything with ``.config``); the ONNX subclass returns its session here."""
        from transformers import AutoModelForMaskedLM

        tokenizer, model, self.loading_info = _hf.load_checkpoint(self.folder, AutoModelForMaskedLM, self.device)
        return tokenizer, model

    def encode_documents(self, texts: Sequence[str]) -> Embeddings:
        return self._encode(texts, "splade documents")

    def encode_queries(self, texts: Sequence[str]) -> Embeddings:
        return self._encode(texts, "splade queries")

    def _encode(self, texts: Sequence[str], what: str) -> Embeddings:
        return _hf.encode_tokenized(
            self.tokenizer,
            texts,
            self.max_length,
            self.batch_size,
            self._encode_padded,
            self.progress,
            what,
            overlap=_hf.overlaps_batches(self.model),
        )

    def _encode_padded(self, batch: dict[str, Any]) -> Embeddings:
        """One batch of ``padded_batch`` arrays (int64 numpy) -> its sparse vectors."""
        import torch

        batch = _hf.on_device(batch, self.device)
        with torch.inference_mode():
            logits = self.model(**batch).logits.float()
            pooled = splade_pool(logits, batch["attention_mask"], self.special_ids).cpu().numpy()
        vectors = []
        for row in pooled:
            (ids,) = np.nonzero(row)
            vectors.append(SparseVector(indices=ids, values=row[ids]))
        return Embeddings(sparse=vectors)

    def decode(self, vector: SparseVector, top: Optional[int] = None) -> list[tuple[str, float]]:
        """``(token, weight)`` pairs, heaviest first (``top`` of them if given), for inspection."""
        order = np.argsort(-vector.values, kind="stable")[:top]
        tokens = self.tokenizer.convert_ids_to_tokens(vector.indices[order].tolist())
        return [(tok, float(w)) for tok, w in zip(tokens, vector.values[order].tolist(), strict=True)]
