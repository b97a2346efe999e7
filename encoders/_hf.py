"""Shared transformers plumbing for the torch adapters (imported only when one is built)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from schemas import ConfigurationError


def load_checkpoint(folder: Path, auto_class: Any, device: str) -> tuple[Any, Any, dict[str, list[str]]]:
    """Tokenizer and eval-mode model from ``folder``; fails if any weight would be randomly initialized."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model, info = auto_class.from_pretrained(str(folder), output_loading_info=True)
    problems = {k: v for k, v in info.items() if k in ("missing_keys", "mismatched_keys") and v}
    if problems:
        raise ConfigurationError(
            f"checkpoint {str(folder)!r} does not fill {auto_class.__name__}: {problems} "
            "(these weights would be newly initialized at random)"
        )
    return tokenizer, model.to(device).eval(), info


def check_max_length(max_length: Optional[int], tokenizer: Any, model: Any, default: Optional[int]) -> int:
    """``max_length`` or ``default``, bounded by the model's position embeddings."""
    limit = getattr(model.config, "max_position_embeddings", None) or 512
    value = max_length if max_length is not None else (default or min(tokenizer.model_max_length, limit))
    if not isinstance(value, int) or value <= 0 or value > limit:
        raise ConfigurationError(f"max_length must be an int in [1, {limit}], got {value!r}")
    return value


def token_lengths(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[int]:
    """Token counts (special tokens included, truncated) used to length-sort batches."""
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        return [0] * len(texts)  # encode_in_batches raises the type error naming the row
    ids = tokenizer(list(texts), truncation=True, max_length=max_length, add_special_tokens=True)["input_ids"]
    return [len(row) for row in ids]


def tokenize_batch(tokenizer: Any, texts: list[str], max_length: int, device: str) -> dict[str, Any]:
    """Padded, truncated tensors on ``device``."""
    batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    return {k: v.to(device) for k, v in batch.items()}
