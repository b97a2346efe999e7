"""Search bodies (knn, rank_feature, match, rrf retriever) and score conversion. Pure."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from vecbridge.connectors.elasticsearch.filters import filter_clauses
from vecbridge.connectors.elasticsearch.mapping import DENSE_FIELD
from vecbridge.schemas import Filter, SparseVector

MAX_RESULT_WINDOW = 10_000  # ES index.max_result_window and the knn num_candidates limit
SOURCE_FIELDS = ["id", "text", "metadata"]


def num_candidates(k: int, factor: int) -> int:
    return min(MAX_RESULT_WINDOW, max(k * factor, 100, k))


def knn_clause(
    vector: np.ndarray, k: int, factor: int, filter: Optional[Filter], ef: Optional[int] = None
) -> dict[str, Any]:
    """Top-level ``knn`` (also the body of a ``knn`` retriever); the filter runs inside the search.
    ``ef`` (HNSW search breadth) sets ``num_candidates`` (at least ``k``, at most 10,000)."""
    candidates = num_candidates(k, factor) if ef is None else min(MAX_RESULT_WINDOW, max(int(ef), k))
    clause: dict[str, Any] = {
        "field": DENSE_FIELD,
        "query_vector": np.asarray(vector, dtype=np.float32).tolist(),
        "k": k,
        "num_candidates": candidates,
    }
    clauses = filter_clauses(filter)
    if clauses:
        clause["filter"] = clauses
    return clause


def sparse_query(field: str, vector: SparseVector, filter: Optional[Filter]) -> dict[str, Any]:
    """Score = sum over query tokens of ``weight * stored_feature`` (``linear`` rank_feature, boost = weight).

    Only positive weights are sent (SparseVector drops zeros and rejects negatives; real ES
    rejects negative boosts). A document sharing no token with the query does not match.
    """
    should = [
        {"rank_feature": {"field": f"{field}.{index}", "linear": {}, "boost": weight}}
        for index, weight in zip(vector.indices.tolist(), vector.values.tolist(), strict=True)
    ]
    return {"bool": {"should": should, "minimum_should_match": 1, "filter": filter_clauses(filter)}}


def text_query(text: str, filter: Optional[Filter]) -> dict[str, Any]:
    """BM25 ``match`` on the ``text`` field."""
    return {"bool": {"must": [{"match": {"text": {"query": text}}}], "filter": filter_clauses(filter)}}


def rrf_retriever(
    dense: Optional[dict[str, Any]], sparse: dict[str, dict[str, Any]], rrf_k: int, window: int
) -> dict[str, Any]:
    """``rrf`` retriever over a knn retriever and one standard retriever per sparse query."""
    retrievers: list[dict[str, Any]] = []
    if dense is not None:
        retrievers.append({"knn": dense})
    retrievers += [{"standard": {"query": query}} for query in sparse.values()]
    return {"rrf": {"retrievers": retrievers, "rank_constant": rrf_k, "rank_window_size": window}}


def raw_dense_score(score: float, similarity: str) -> float:
    """Undo ES's knn score transform, giving the raw similarity the protocol reports.

    dot_product / cosine: ``(1 + s) / 2``; max_inner_product: ``s + 1`` if ``s >= 0`` else
    ``1 / (1 - s)``; l2_norm: ``1 / (1 + d^2)``, reported as the squared distance ``d^2`` (as Milvus).
    """
    if similarity in ("dot_product", "cosine"):
        return 2.0 * score - 1.0
    if similarity == "max_inner_product":
        return score - 1.0 if score >= 1.0 else 1.0 - 1.0 / score
    if similarity == "l2_norm":
        return 1.0 / score - 1.0
    raise ValueError(f"unknown similarity {similarity!r}")


def msearch_lines(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``msearch`` header and body lines for ``client.search`` keyword requests (``index`` to the
    header; ``source_includes`` / ``source`` as the body's ``_source``)."""
    lines: list[dict[str, Any]] = []
    for request in requests:
        body = {k: v for k, v in request.items() if k not in ("index", "source_includes", "source")}
        body["_source"] = request["source_includes"] if "source_includes" in request else request.get("source", True)
        lines += [{"index": request["index"]}, body]
    return lines


def msearch_responses(resp: Any, n: int) -> list[Any]:
    """The ``n`` responses of an ``msearch`` answer; the first failed one raises ``ValueError``
    with its error (the caller wraps it)."""
    responses = list(resp["responses"])
    if len(responses) != n:
        raise ValueError(f"msearch answered {len(responses)} responses for {n} searches")
    for item in responses:
        if "error" in item:
            raise ValueError(f"a search of the msearch failed: {item['error']}")
    return responses
