"""Retrieve each retriever's candidates once per query; time end-to-end searches for latency."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np

from vecbridge.evaluation.modes import Candidates, Mode
from vecbridge.index import HybridIndex
from vecbridge.schemas import FusionParams, Hit, SearchRequest

CHUNK = 64


def retrieve_candidates(
    index: HybridIndex,
    queries: Mapping[str, str],
    retrievers: Sequence[str],
    depth: int,
    progress: bool = False,
) -> Candidates:
    """``{retriever: {query id: top-depth hits}}`` through ``HybridIndex.run`` (text dropped to save memory)."""
    qids = list(queries)
    out: dict[str, dict[str, list[Hit]]] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(qids) * len(retrievers), desc="retrieving", unit="query")
    try:
        for name in retrievers:
            per_query: dict[str, list[Hit]] = {}
            for start in range(0, len(qids), CHUNK):
                chunk = qids[start : start + CHUNK]
                requests = [SearchRequest(query=queries[q], k=depth, retrievers=[name]) for q in chunk]
                for q, hits in zip(chunk, index.run(requests), strict=True):
                    per_query[q] = [Hit(id=h.id, score=h.score) for h in hits]
                if bar is not None:
                    bar.update(len(chunk))
            out[name] = per_query
    finally:
        if bar is not None:
            bar.close()
    return out


def request_for(mode: Mode, query: str, k: int) -> SearchRequest:
    """The facade request equivalent to ``mode`` (used for latency and for equivalence tests)."""
    fusion = FusionParams(
        rrf_k=mode.rrf_k,
        weights={r: mode.weights.get(r, 1.0) for r in mode.active},
        window=mode.window,
        uncovered_factor=mode.uncovered_factor,
        agreement_top_n=mode.agreement_top_n,
        disagreement_factor=mode.disagreement_factor,
    )
    return SearchRequest(query=query, k=k, retrievers=list(mode.active), fusion=fusion)


def latency_ms(index: HybridIndex, queries: Sequence[str], mode: Mode, k: int = 10) -> dict[str, float]:
    """p50/p95 milliseconds of one-query searches (query encoding + store searches + fusion)."""
    if not queries:
        return {"p50_ms": float("nan"), "p95_ms": float("nan")}
    times = []
    for query in queries:
        request = request_for(mode, query, k)
        start = time.perf_counter()
        index.run([request])
        times.append((time.perf_counter() - start) * 1000.0)
    return {"p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95))}
