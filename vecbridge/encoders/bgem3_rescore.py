"""Second-stage re-scoring with BGE-M3 itself: ColBERT maxsim, or FlagEmbedding's weighted mode mix.

Vectors are recomputed for the candidates (not stored in the vector store): ColBERT multi-vectors
are ~100x larger than one dense vector, and a rerank window is small.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import numpy as np

from vecbridge.encoders.bgem3_base import ALL_OUTPUTS, BGEM3Base
from vecbridge.encoders.bgem3_scoring import (
    SCORE_MODES,
    colbert_score,
    combine_scores,
    dense_score,
    lexical_matching_score,
)
from vecbridge.schemas import ConfigurationError


class BGEM3Rescorer:
    """A ``Reranker`` from a BGE-M3 encoder: ``mode`` is one of FlagEmbedding's five score modes."""

    def __init__(
        self, encoder: BGEM3Base, mode: str = "colbert", weights_for_different_modes: Optional[Sequence[float]] = None
    ) -> None:
        if mode not in SCORE_MODES:
            raise ConfigurationError(f"mode={mode!r}; choose one of {list(SCORE_MODES)}")
        self.encoder = encoder
        self.mode = mode
        self.weights = weights_for_different_modes
        self.name = f"{encoder.name}:{mode}"

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        """One score per passage (query encoded once)."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        q = self.encoder.encode([query], self.encoder.query_max_length, outputs=ALL_OUTPUTS)
        p = self.encoder.encode(list(passages), self.encoder.passage_max_length, outputs=ALL_OUTPUTS)
        scores = [
            combine_scores(
                dense_score(q.dense[0], p.dense[i]),  # type: ignore[index]  # ALL_OUTPUTS requested
                lexical_matching_score(q.sparse[0], p.sparse[i]),  # type: ignore[index]  # ALL_OUTPUTS requested
                colbert_score(q.colbert[0], p.colbert[i]),  # type: ignore[index]  # ALL_OUTPUTS requested
                self.weights,
            )[self.mode]
            for i in range(len(passages))
        ]
        return np.asarray(scores, dtype=np.float32)

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        return np.asarray(self.encoder.compute_score(list(pairs), self.weights)[self.mode], dtype=np.float32)
