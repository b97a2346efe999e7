"""Shared transformers plumbing for the Hugging Face adapters (imported only when one is built)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

from vecbridge.schemas import ConfigurationError


class ThreadSafeTokenizer:
    """A Hugging Face tokenizer that threads may share: every call and attribute read holds one lock.

    Fast (Rust) tokenizers are not re-entrant: two threads tokenizing at once with different
    truncation/padding settings fail with ``RuntimeError: Already borrowed`` (huggingface/tokenizers#537).
    Only tokenization is serialized; the model forward pass and store calls run in parallel.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.wrapped = tokenizer
        self._lock = threading.RLock()
        self._fields = direct_fields(tokenizer)

    def encode_one(self, text: str, max_length: int) -> dict[str, list[list[int]]]:
        """``dict(self([text], truncation=True, max_length=max_length))``, the same ids, from the Rust tokenizer
        directly: a query skips the Python layers of a ``transformers`` call (a few hundred microseconds).
        Tokenizers whose call path is overridden (``direct_fields`` None) take the ``transformers`` call."""
        if self._fields is None:
            return dict(self([text], truncation=True, max_length=max_length))
        from transformers.tokenization_utils_base import PaddingStrategy, TruncationStrategy

        with self._lock:  # the settings below live on the shared Rust tokenizer, as in a transformers call
            wrapped = self.wrapped
            wrapped.set_truncation_and_padding(
                PaddingStrategy.DO_NOT_PAD, TruncationStrategy.LONGEST_FIRST, max_length, 0, None, None
            )
            backend = wrapped._tokenizer
            if backend.encode_special_tokens != wrapped.split_special_tokens:
                backend.encode_special_tokens = wrapped.split_special_tokens
            encoding = backend.encode(text)
        return {name: [getattr(encoding, attribute)] for name, attribute in self._fields}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self.wrapped(*args, **kwargs)

    def __len__(self) -> int:
        with self._lock:
            return len(self.wrapped)

    def __getattr__(self, name: str) -> Any:
        if name in ("wrapped", "_lock", "_fields"):  # not yet set (copy / unpickling): no recursion
            raise AttributeError(name)
        with self._lock:
            value = getattr(self.wrapped, name)
        if not callable(value) or isinstance(value, type):
            return value

        @functools.wraps(value)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return value(*args, **kwargs)

        return locked


_CALL_PATH = ("__call__", "_call_one", "batch_encode_plus", "_batch_encode_plus", "_convert_encoding")


def direct_fields(tokenizer: Any) -> Optional[tuple[tuple[str, str], ...]]:
    """``(output name, Rust Encoding attribute)`` pairs a ``transformers`` call of ``tokenizer`` returns (ids,
    then token type ids and attention mask as its ``model_input_names`` ask), or None where that call is not
    the plain fast-tokenizer one (a slow tokenizer, or a class overriding part of the call path)."""
    try:
        from transformers import PreTrainedTokenizerFast
    except ImportError:  # pragma: no cover - transformers comes with every Hugging Face adapter
        return None
    if not isinstance(tokenizer, PreTrainedTokenizerFast):
        return None
    cls, base = type(tokenizer), PreTrainedTokenizerFast
    if not all(hasattr(base, name) for name in (*_CALL_PATH, "set_truncation_and_padding")):
        return None  # another transformers layout: its own call
    if any(getattr(cls, name) is not getattr(base, name) for name in _CALL_PATH):
        return None
    wanted = tokenizer.model_input_names
    fields = [("input_ids", "ids")]
    fields += [("token_type_ids", "type_ids")] if "token_type_ids" in wanted else []
    fields += [("attention_mask", "attention_mask")] if "attention_mask" in wanted else []
    return tuple(fields)


def load_tokenizer(folder: Path) -> ThreadSafeTokenizer:
    """``AutoTokenizer`` of ``folder``, wrapped so that threads may share it."""
    from transformers import AutoTokenizer

    return ThreadSafeTokenizer(AutoTokenizer.from_pretrained(str(folder)))


def load_checkpoint(folder: Path, auto_class: Any, device: str) -> tuple[Any, Any, dict[str, list[str]]]:
    """Thread-safe tokenizer and eval-mode model from ``folder``; fails if any weight would be randomly
    initialized."""
    tokenizer = load_tokenizer(folder)
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


def tokenize_once(tokenizer: Any, texts: Sequence[str], max_length: int) -> dict[str, list[list[int]]]:
    """Every text tokenized once, truncated, unpadded (special tokens included): ``input_ids`` and the
    tokenizer's other per-token fields. Their lengths sort the batches; ``padded_batch`` pads the rows of a
    batch, so no text goes through the tokenizer twice."""
    if not texts:
        return {"input_ids": []}
    if len(texts) == 1 and isinstance(tokenizer, ThreadSafeTokenizer):  # a query: the Rust tokenizer directly
        return tokenizer.encode_one(texts[0], max_length)
    return dict(tokenizer(list(texts), truncation=True, max_length=max_length))


def padded_batch(features: Mapping[str, Sequence[Sequence[int]]], rows: Sequence[int], pad_id: int) -> dict[str, Any]:
    """``rows`` of ``tokenize_once``'s output padded on the right to the longest, as int64 numpy arrays:
    ``input_ids`` with ``pad_id``, every other field (``attention_mask``, ``token_type_ids``) with 0; what
    ``tokenizer(texts, padding=True, return_tensors="np")`` returns for a right-padding tokenizer."""
    import numpy as np

    if len(rows) == 1:  # nothing to pad
        return {key: np.array([values[rows[0]]], dtype=np.int64) for key, values in features.items()}
    width = max((len(features["input_ids"][i]) for i in rows), default=0)
    batch = {}
    for key, values in features.items():
        array = np.full((len(rows), width), pad_id if key == "input_ids" else 0, dtype=np.int64)
        for j, i in enumerate(rows):
            array[j, : len(values[i])] = values[i]
        batch[key] = array
    return batch


def encode_tokenized(
    tokenizer: Any,
    texts: Sequence[str],
    max_length: int,
    batch_size: int,
    encode_padded: Callable[[dict[str, Any]], Any],
    progress: bool = False,
    description: str = "encoding",
    overlap: bool = False,
) -> Any:
    """Tokenize every text once (``tokenize_once``), run ``encode_padded`` on each length-sorted
    ``padded_batch`` (``overlap``: two at once, ``encode_rows_in_batches``) and return the ``Embeddings``
    rows in input order."""
    from vecbridge.encoders.base import check_texts, encode_rows_in_batches

    check_texts(texts)
    features = tokenize_once(tokenizer, texts, max_length)
    pad_id = tokenizer.pad_token_id
    return encode_rows_in_batches(
        [len(row) for row in features["input_ids"]],
        batch_size,
        lambda rows: encode_padded(padded_batch(features, rows, pad_id)),
        progress,
        description,
        overlap,
    )


def overlaps_batches(model: Any) -> bool:
    """Whether an encoder's batches may run two at once (``encode_rows_in_batches(overlap=...)``): only a
    model that says so (``OnnxModel`` of a per-text graph on several lanes), never torch."""
    return bool(getattr(model, "overlaps_batches", False))


def on_device(batch: Mapping[str, Any], device: str) -> dict[str, Any]:
    """``padded_batch``'s arrays as torch tensors on ``device``."""
    import torch

    return {key: torch.from_numpy(value).to(device) for key, value in batch.items()}
