"""Cross-encoder reranker (``bge-reranker-v2-m3`` style) with FlagEmbedding ``FlagReranker`` semantics.

Tokenisation follows ``BaseReranker.compute_score_single_gpu``: the query is cut to ``query_max_length``
tokens (default ``max_length * 3 // 4``), the passage to ``max_length``, then the pair gets its special
tokens and only the passage is truncated so the pair fits ``max_length``. Scores are the raw logits,
or ``sigmoid(logit)`` with ``normalize=True``.

Usage::

    from vecbridge.encoders.reranker import CrossEncoderReranker
    reranker = CrossEncoderReranker("BAAI/bge-reranker-v2-m3", normalize=True)
    scores = reranker.score("what is BGE-M3?", passages)   # np.ndarray [len(passages)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Optional, Protocol, runtime_checkable

import numpy as np

from vecbridge.encoders.base import length_sorted_batches, resolve_device
from vecbridge.encoders.loading import resolve_model_path
from vecbridge.schemas import ConfigurationError


@runtime_checkable
class Reranker(Protocol):
    """Scores passages against a query; higher means more relevant. Rows keep the input order."""

    name: str

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        """One float score per passage for ``query``."""
        ...

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """One float score per ``(query, passage)`` pair."""
        ...


class CrossEncoderReranker:
    """An ``AutoModelForSequenceClassification`` cross-encoder with one logit per pair."""

    def __init__(
        self,
        model_name_or_path: str = "BAAI/bge-reranker-v2-m3",
        *,
        device: str = "auto",
        precision: Literal["auto", "fp32", "fp16"] = "auto",
        max_length: int = 512,
        query_max_length: Optional[int] = None,
        batch_size: int = 32,
        normalize: bool = False,
        progress: bool = False,
    ):
        import torch
        from transformers import AutoModelForSequenceClassification

        from vecbridge.encoders import _hf

        for field, value in (("max_length", max_length), ("batch_size", batch_size)):
            if not isinstance(value, int) or value <= 0:
                raise ConfigurationError(f"{field} must be a positive int, got {value!r}")
        if query_max_length is not None and (not isinstance(query_max_length, int) or query_max_length <= 0):
            raise ConfigurationError(f"query_max_length must be a positive int or None, got {query_max_length!r}")
        if precision not in ("auto", "fp32", "fp16"):
            raise ConfigurationError(f"precision must be 'auto', 'fp32' or 'fp16', got {precision!r}")
        path = resolve_model_path(model_name_or_path)
        self.name = model_name_or_path
        self.device = resolve_device(device)
        on_cuda = self.device.startswith("cuda")
        if precision == "fp16" and not on_cuda:
            raise ConfigurationError("precision='fp16' needs a CUDA device; use 'fp32' on CPU")
        dtype = torch.float16 if (precision == "fp16" or (precision == "auto" and on_cuda)) else torch.float32
        self.tokenizer = _hf.load_tokenizer(path)  # shared by threads
        self.model = AutoModelForSequenceClassification.from_pretrained(str(path), dtype=dtype).to(self.device).eval()
        if self.model.config.num_labels != 1:
            raise ConfigurationError(
                f"{self.name!r} has num_labels={self.model.config.num_labels}; a reranker needs exactly 1 logit"
            )
        self.max_length = max_length
        self.query_max_length = query_max_length if query_max_length is not None else max_length * 3 // 4
        self.batch_size = batch_size
        self.normalize = normalize
        self.progress = progress

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        """Scores of ``passages`` for one ``query`` (float32 [len(passages)])."""
        if not isinstance(query, str):
            raise TypeError(f"query must be str, got {type(query).__name__}")
        if isinstance(passages, str):
            raise TypeError("passages must be a sequence of strings, not a single string")
        return self.score_pairs([(query, p) for p in passages])

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Scores of ``(query, passage)`` pairs, in input order (float32 [len(pairs)])."""
        import torch

        for i, pair in enumerate(pairs):
            if len(pair) != 2 or not all(isinstance(x, str) for x in pair):
                raise TypeError(f"pairs[{i}] must be a (query, passage) tuple of two strings, got {pair!r}")
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        features = self._pair_features(pairs)
        scores = np.zeros(len(pairs), dtype=np.float32)
        batches = list(length_sorted_batches([len(f["input_ids"]) for f in features], self.batch_size))
        if self.progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="reranking", unit="batch")
        with torch.inference_mode():
            for rows in batches:
                padded = self.tokenizer.pad([features[i] for i in rows], padding=True, return_tensors="pt")
                logits = self.model(**{k: v.to(self.device) for k, v in padded.items()}).logits
                scores[rows] = logits.view(-1).float().cpu().numpy()
        if self.normalize:
            scores = (1.0 / (1.0 + np.exp(-scores.astype(np.float64)))).astype(np.float32)
        return scores

    def _pair_features(self, pairs: Sequence[tuple[str, str]]) -> list[dict[str, list[int]]]:
        """Token ids of each pair, truncated exactly like FlagReranker (passage side only)."""
        queries = self.tokenizer(
            [q for q, _ in pairs], add_special_tokens=False, truncation=True, max_length=self.query_max_length
        )["input_ids"]
        passages = self.tokenizer(
            [p for _, p in pairs], add_special_tokens=False, truncation=True, max_length=self.max_length
        )["input_ids"]
        specials = self.tokenizer.num_special_tokens_to_add(pair=True)
        features = []
        for q_ids, p_ids in zip(queries, passages, strict=True):
            overflow = len(q_ids) + len(p_ids) + specials - self.max_length
            if 0 < overflow < len(p_ids):
                p_ids = p_ids[:-overflow]
            input_ids = self.tokenizer.build_inputs_with_special_tokens(q_ids, p_ids)
            item = {"input_ids": input_ids, "attention_mask": [1] * len(input_ids)}
            if "token_type_ids" in self.tokenizer.model_input_names:
                item["token_type_ids"] = self.tokenizer.create_token_type_ids_from_sequences(q_ids, p_ids)
            features.append(item)
        return features
