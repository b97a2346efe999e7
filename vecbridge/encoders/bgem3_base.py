"""What the torch and ONNX BGE-M3 encoders share: output selection, argument checks and ``BGEM3Base``
(tokenisation, length-sorted batching, post-processing, ``compute_score``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Optional, Union

import numpy as np

from vecbridge.encoders import _hf
from vecbridge.encoders.base import OutputKind, check_texts
from vecbridge.encoders.bgem3_scoring import RawOutputs, pair_scores, to_embeddings
from vecbridge.encoders.loading import check_bgem3_folder, resolve_model_path
from vecbridge.schemas import ConfigurationError, Embeddings

ALL_OUTPUTS = frozenset({OutputKind.DENSE, OutputKind.SPARSE, OutputKind.COLBERT})


def parse_outputs(outputs: Optional[Iterable[Union[str, OutputKind]]]) -> frozenset[OutputKind]:
    """``None`` -> all three; otherwise a non-empty set of ``dense``/``sparse``/``colbert``."""
    if outputs is None:
        return ALL_OUTPUTS
    if isinstance(outputs, (str, OutputKind)):
        outputs = [outputs]
    try:
        parsed = frozenset(OutputKind(o) for o in outputs)
    except ValueError as exc:
        raise ConfigurationError(f"outputs must be among {[k.value for k in OutputKind]}: {exc}") from exc
    if not parsed:
        raise ConfigurationError("outputs must name at least one of dense, sparse, colbert")
    return parsed


def _check_positive(name: str, value: int) -> int:
    if not isinstance(value, int) or value <= 0:
        raise ConfigurationError(f"{name} must be a positive int, got {value!r}")
    return value


class BGEM3Base(ABC):
    """Tokenisation, length-sorted batching and post-processing shared by the torch and ONNX backends.

    Subclasses implement ``_forward`` (padded int64 ``input_ids``/``attention_mask`` -> ``RawOutputs``).
    """

    normalize = True
    """The dense output is L2-normalized (CLS vector, as FlagEmbedding); ``HybridIndex`` picks IP for it."""

    def __init__(
        self,
        model_name_or_path: str,
        *,
        outputs: Optional[Iterable[Union[str, OutputKind]]] = None,
        batch_size: int = 32,
        query_max_length: int = 512,
        passage_max_length: int = 512,
        query_instruction: Optional[str] = None,
        progress: bool = False,
    ):
        model_path = resolve_model_path(model_name_or_path)
        check_bgem3_folder(model_path)
        self.model_path = model_path
        self.name = model_name_or_path
        self.scripts = None  # multilingual (100+ languages): covers every script
        self.outputs = parse_outputs(outputs)
        self.batch_size = _check_positive("batch_size", batch_size)
        self.query_max_length = _check_positive("query_max_length", query_max_length)
        self.passage_max_length = _check_positive("passage_max_length", passage_max_length)
        self.query_instruction = query_instruction
        self.progress = progress
        self.tokenizer = _hf.load_tokenizer(model_path)  # shared by threads
        # FlagEmbedding drops these ids from lexical weights (cls, eos, pad, unk).
        self.unused_token_ids = frozenset(
            i
            for i in (
                self.tokenizer.cls_token_id,
                self.tokenizer.eos_token_id,
                self.tokenizer.pad_token_id,
                self.tokenizer.unk_token_id,
            )
            if i is not None
        )
        self.sparse_vocab_size: Optional[int] = None
        self.dense_dim: Optional[int] = None

    # ---- Encoder protocol -----------------------------------------------------------------
    def encode_documents(self, texts: Sequence[str]) -> Embeddings:
        """Encode passages (``passage_max_length`` tokens)."""
        return self.encode(texts, max_length=self.passage_max_length, description="BGE-M3 passages")

    def encode_queries(self, texts: Sequence[str]) -> Embeddings:
        """Encode queries (``query_max_length`` tokens, optional instruction prefix)."""
        if self.query_instruction:
            check_texts(texts)  # before the instruction turns any row into a string
            texts = [f"{self.query_instruction}{t}" for t in texts]
        return self.encode(texts, max_length=self.query_max_length, description="BGE-M3 queries")

    def encode(
        self,
        texts: Sequence[str],
        max_length: int,
        description: str = "BGE-M3",
        outputs: Optional[Iterable[Union[str, OutputKind]]] = None,
    ) -> Embeddings:
        """Encode ``texts`` truncated to ``max_length`` tokens; ``outputs`` narrows this call's outputs."""
        wanted = self.outputs if outputs is None else parse_outputs(outputs)
        return _hf.encode_tokenized(
            self.tokenizer,
            texts,
            max_length,
            self.batch_size,
            lambda batch: self._encode_padded(batch, wanted),
            self.progress,
            description,
        )

    def _encode_padded(self, batch: dict[str, np.ndarray], wanted: frozenset[OutputKind]) -> Embeddings:
        input_ids, attention_mask = batch["input_ids"], batch["attention_mask"]
        raw = self._forward(input_ids, attention_mask, wanted)
        return to_embeddings(raw, input_ids, attention_mask, self.unused_token_ids)

    @abstractmethod
    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray, wanted: frozenset[OutputKind]) -> RawOutputs:
        """Run the network on one padded batch."""

    # ---- scores ------------------------------------------------------------------------------
    def compute_score(
        self, sentence_pairs: Sequence[tuple[str, str]], weights_for_different_modes: Optional[Sequence[float]] = None
    ) -> dict[str, list[float]]:
        """``BGEM3FlagModel.compute_score``: dense, sparse, colbert, sparse+dense, colbert+sparse+dense.

        Each pair is scored on its own (trimmed) vectors, which equals FlagEmbedding with ``batch_size=1``.
        """
        queries = self.encode([p[0] for p in sentence_pairs], self.query_max_length, outputs=ALL_OUTPUTS)
        passages = self.encode([p[1] for p in sentence_pairs], self.passage_max_length, outputs=ALL_OUTPUTS)
        return pair_scores(queries, passages, weights_for_different_modes)
