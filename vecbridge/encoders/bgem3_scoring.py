"""BGE-M3 post-processing and scores with FlagEmbedding 1.4.2 semantics (shared by torch and ONNX).

Post-processing (``M3Embedder.encode_single_device``):

* dense: the [CLS] hidden state, L2-normalised (done in the network).
* sparse: ``relu(sparse_linear(h))`` for every token; per token id the **max** weight is kept; the
  cls/eos/pad/unk ids and weights ``<= 0`` are dropped; values stay float32 (``lexical_weights``).
* ColBERT: ``normalize(colbert_linear(h[:, 1:]))`` trimmed to ``attention_mask.sum() - 1`` rows (every
  token but [CLS], the closing ``</s>`` included).

Scores (``M3Embedder.compute_lexical_matching_score`` / ``colbert_score`` / ``compute_score``):
lexical = sum of ``w_q * w_p`` over shared ids; ColBERT = sum over query vectors of the max dot product
with any passage vector, divided by the number of query vectors; dense = dot product; combinations are
weighted means with ``weights_for_different_modes = [dense, sparse, colbert]``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np

from vecbridge.schemas import Embeddings, SparseVector

SparseLike = Union[SparseVector, Mapping[str, float], Mapping[int, float]]
SCORE_MODES = ("dense", "sparse", "colbert", "sparse+dense", "colbert+sparse+dense")


@dataclass(frozen=True)
class RawOutputs:
    """What one forward pass of the BGE-M3 network returns for a padded batch (numpy, float32).

    ``dense`` [B, H] normalised; ``token_weights`` [B, T] after relu; ``colbert`` [B, T-1, D] normalised,
    padding rows not yet trimmed. Outputs that were not computed are None.
    """

    dense: Optional[np.ndarray]
    token_weights: Optional[np.ndarray]
    colbert: Optional[np.ndarray]


def sparse_from_token_weights(
    token_weights: np.ndarray, input_ids: np.ndarray, attention_mask: np.ndarray, unused_ids: Collection[int]
) -> list[SparseVector]:
    """One ``SparseVector`` per row: max weight per token id, special ids and zero weights dropped."""
    unused = np.asarray(sorted(unused_ids), dtype=np.int64)
    out: list[SparseVector] = []
    for weights, ids, mask in zip(token_weights, input_ids, attention_mask, strict=True):
        keep = (mask > 0) & (weights > 0) & ~np.isin(ids, unused)
        ids_k, w_k = ids[keep].astype(np.int64), weights[keep].astype(np.float32)
        order = np.lexsort((w_k, ids_k))  # by id, then weight: the last of each id is its max
        ids_s, w_s = ids_k[order], w_k[order]
        last = np.ones(ids_s.size, dtype=bool)
        if ids_s.size > 1:
            last[:-1] = ids_s[1:] != ids_s[:-1]
        out.append(SparseVector(indices=ids_s[last], values=w_s[last]))
    return out


def colbert_from_vectors(colbert: np.ndarray, attention_mask: np.ndarray) -> list[np.ndarray]:
    """Per row, the ``tokens - 1`` non-[CLS] vectors (padding rows cut off), as float32 copies."""
    lengths = attention_mask.sum(axis=1).astype(np.int64)
    return [
        np.array(vectors[: max(int(n) - 1, 0)], dtype=np.float32) for vectors, n in zip(colbert, lengths, strict=True)
    ]


def to_embeddings(
    raw: RawOutputs, input_ids: np.ndarray, attention_mask: np.ndarray, unused_ids: Collection[int]
) -> Embeddings:
    """Turn one batch of network outputs into ``Embeddings`` (the one post-processing path)."""
    return Embeddings(
        dense=None if raw.dense is None else raw.dense.astype(np.float32, copy=False),
        sparse=None
        if raw.token_weights is None
        else sparse_from_token_weights(raw.token_weights, input_ids, attention_mask, unused_ids),
        colbert=None if raw.colbert is None else colbert_from_vectors(raw.colbert, attention_mask),
    )


def _as_sparse(value: SparseLike) -> SparseVector:
    return value if isinstance(value, SparseVector) else SparseVector.from_dict(value)


def lexical_matching_score(query: SparseLike, passage: SparseLike) -> float:
    """Sum of ``w_q * w_p`` over the token ids both share (FlagEmbedding's lexical matching score)."""
    return _as_sparse(query).dot(_as_sparse(passage))


def colbert_score(query_vectors: np.ndarray, passage_vectors: np.ndarray) -> float:
    """ColBERT late interaction: mean over query vectors of the max dot product with passage vectors."""
    q = np.asarray(query_vectors, dtype=np.float32)
    p = np.asarray(passage_vectors, dtype=np.float32)
    if q.ndim != 2 or p.ndim != 2 or q.shape[1] != p.shape[1]:
        raise ValueError(f"colbert vectors must be 2-d with equal dims, got {q.shape} and {p.shape}")
    if q.shape[0] == 0 or p.shape[0] == 0:
        return 0.0
    return float((q @ p.T).max(axis=1).sum() / q.shape[0])


def dense_score(query: np.ndarray, passage: np.ndarray) -> float:
    """Inner product of two (normalised) dense vectors."""
    return float(np.dot(np.asarray(query, np.float32), np.asarray(passage, np.float32)))


def combine_scores(
    dense: float, sparse: float, colbert: float, weights_for_different_modes: Optional[Sequence[float]] = None
) -> dict[str, float]:
    """``BGEM3FlagModel.compute_score``'s five scores from the three per-mode scores.

    ``weights_for_different_modes`` is ``[dense, sparse, colbert]`` (default ``[1, 1, 1]``).
    """
    w = [1.0, 1.0, 1.0] if weights_for_different_modes is None else [float(x) for x in weights_for_different_modes]
    if len(w) != 3:
        raise ValueError(f"weights_for_different_modes must have 3 values [dense, sparse, colbert], got {w}")
    if w[0] + w[1] == 0 or sum(w) == 0:
        raise ValueError(f"weights_for_different_modes must not sum to zero, got {w}")
    return {
        "dense": dense,
        "sparse": sparse,
        "colbert": colbert,
        "sparse+dense": (sparse * w[1] + dense * w[0]) / (w[1] + w[0]),
        "colbert+sparse+dense": (colbert * w[2] + sparse * w[1] + dense * w[0]) / sum(w),
    }


def pair_scores(
    queries: Embeddings, passages: Embeddings, weights_for_different_modes: Optional[Sequence[float]] = None
) -> dict[str, list[float]]:
    """Row-aligned query/passage ``Embeddings`` (all three outputs) -> lists of the five scores."""
    for name, emb in (("queries", queries), ("passages", passages)):
        if emb.dense is None or emb.sparse is None or emb.colbert is None:
            raise ValueError(f"{name} must carry dense, sparse and colbert outputs to score all modes")
    if len(queries) != len(passages):
        raise ValueError(f"{len(queries)} queries vs {len(passages)} passages: pairs must be row-aligned")
    result: dict[str, list[float]] = {mode: [] for mode in SCORE_MODES}
    for i in range(len(queries)):
        scores = combine_scores(
            dense_score(queries.dense[i], passages.dense[i]),  # type: ignore[index]  # all three outputs requested
            lexical_matching_score(queries.sparse[i], passages.sparse[i]),  # type: ignore[index]  # all three outputs requested
            colbert_score(queries.colbert[i], passages.colbert[i]),  # type: ignore[index]  # all three outputs requested
            weights_for_different_modes,
        )
        for mode in SCORE_MODES:
            result[mode].append(scores[mode])
    return result
