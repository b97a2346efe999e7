"""BM25 on a growing corpus: SciFact built from a first ingest of 300 documents, the other 4,883 upserted later.

    PYTHONPATH=. python benchmarks/bm25_growth.py [--data ../shared/data/scifact] [--first 300] [--batch 256]

Sparse-only collections (BM25, no dense model) on Milvus Lite files in a temporary folder; sparse
nDCG@10 on the SciFact test queries (ranx, ``vecbridge.evaluation.metrics``) for:

- frozen, fitted on everything: ``BM25Encoder`` fitted on all documents, then every document written
  (the reference: statistics of the whole corpus);
- frozen, grown: ``BM25Encoder`` fitted on the first ingest, the rest upserted later (earlier vecbridge);
- live, grown: ``LiveBM25Encoder`` (statistics that follow the corpus), same writes;
- live, grown + ``reindex_sparse``: the same collection after the sparse vectors are re-encoded
  with the final ``avgdl`` (no drift);
- live, all at once: every document in one ingest.

Also: the ``avgdl`` drift of the grown collection (the ``avgdl`` each document was normalised with
vs the final one), the hashed term space's collisions, and the statistics checked against a recount.
Goal: live, grown within 0.005 of frozen, fitted on everything.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.timing import machine_line, write_results
from vecbridge.connectors.milvus import MilvusConnector
from vecbridge.encoders.bm25 import BM25Encoder
from vecbridge.encoders.bm25_live import LiveBM25Encoder, term_id
from vecbridge.evaluation.beir import load_beir
from vecbridge.evaluation.metrics import evaluate, to_qrels, to_run
from vecbridge.index import HybridIndex

GOAL = 0.005


def ndcg(index: HybridIndex, dataset) -> float:
    ids = list(dataset.queries)
    hits = index.search_batch([dataset.queries[q] for q in ids], k=10, mode="sparse")
    run = to_run(dict(zip(ids, hits, strict=True)), "bm25")
    return evaluate(to_qrels(dataset.qrels), run, ("ndcg@10",))["ndcg@10"]


def build(folder: Path, name: str, encoder, docs, first: int, batch: int) -> HybridIndex:
    index = HybridIndex.create(MilvusConnector(str(folder / f"{name}.db")), name, sparse=encoder, batch_size=batch)
    for part in (docs[:first], docs[first:]):
        if part:
            report = index.upsert(part)
            assert report.ok, report.summary()
    return index


class AvgdlTrace:
    """Records the ``avgdl`` a ``LiveBM25Encoder`` normalises each encoded document with."""

    def __init__(self, encoder: LiveBM25Encoder) -> None:
        self.used: dict[str, float] = {}
        inner = encoder.encode_documents

        def traced(texts):
            stats = encoder.stats
            avgdl = stats.avgdl
            if avgdl <= 0:  # the first batch: its own mean length
                lengths = [encoder.term_ids(t)[1] for t in texts]
                avgdl = sum(lengths) / len(lengths)
            for text in texts:
                self.used[text] = avgdl
            return inner(texts)

        encoder.encode_documents = traced  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--first", type=int, default=300, help="Documents of the first ingest.")
    parser.add_argument("--batch", type=int, default=256, help="Documents per upsert batch.")
    args = parser.parse_args()
    dataset = load_beir(args.data, "test")
    docs = list(dataset.corpus.values())
    texts = [d.text for d in docs]
    print(
        f"SciFact test: {len(dataset.queries)} queries, {len(docs)} documents; first ingest {args.first}, "
        f"then {len(docs) - args.first} upserted in batches of {args.batch}"
    )
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="bm25-growth-") as tmp:
        folder = Path(tmp)

        def measure(label: str, make) -> HybridIndex:
            started = time.perf_counter()
            index = make()
            rows.append((label, ndcg(index, dataset), time.perf_counter() - started))
            return index

        measure(
            "frozen, fitted on everything",
            lambda: build(folder, "frozen_all", BM25Encoder().fit(texts), docs, 0, args.batch),
        )
        measure(
            "frozen, grown",
            lambda: build(folder, "frozen_grown", BM25Encoder().fit(texts[: args.first]), docs, args.first, args.batch),
        )
        live = LiveBM25Encoder()
        trace = AvgdlTrace(live)
        grown = measure("live, grown", lambda: build(folder, "live_grown", live, docs, args.first, args.batch))
        stats = grown.corpus_stats.refresh(force=True)
        recount = grown.corpus_stats.recount()
        final = stats.avgdl
        used = np.asarray([trace.used[t] for t in texts])
        drift = np.abs(used / final - 1.0)
        first_avgdl = used[0]
        entries = len(grown.connector.log_versions("live_grown"))
        measure("live, grown + reindex_sparse", lambda: (grown.reindex_sparse(), grown)[1])
        measure("live, all at once", lambda: build(folder, "live_all", LiveBM25Encoder(), docs, 0, args.batch))

    reference = rows[0][1]
    print(f"\n{machine_line()}")
    print(f"{'collection':34s} {'nDCG@10':>8s} {'Δ vs fitted on everything':>26s} {'build+eval s':>13s}")
    for label, value, seconds in rows:
        print(f"{label:34s} {value:8.4f} {value - reference:+26.4f} {seconds:13.1f}")
    live_gap = rows[2][1] - reference
    print(
        f"\ngoal: live, grown within {GOAL} of fitted on everything: {'met' if abs(live_gap) <= GOAL else 'missed'} "
        f"({live_gap:+.4f})"
    )
    print(
        f"statistics vs a recount of the store: {'equal' if stats == recount else 'DIFFERENT'} "
        f"(N={stats.n_docs}, terms={len(stats.df)}, avgdl={final:.2f}; {entries} log entries)"
    )
    print(
        f"avgdl drift: first ingest normalised with {first_avgdl:.2f}, final {final:.2f}; |avgdl_used/avgdl - 1| "
        f"mean {drift.mean():.4f}, max {drift.max():.4f}; {int((drift > 0.05).sum())} documents off by more than 5 %"
    )
    terms = {t for text in texts for t in live.tokenize(text)} | {
        t for q in dataset.queries.values() for t in live.tokenize(q)
    }
    ids = {term_id(t) for t in terms}
    print(
        f"hashed term space: {len(terms)} distinct terms -> {len(ids)} ids ({len(terms) - len(ids)} collisions; "
        f"expected ~{len(terms) ** 2 / 2**32:.2f} in 2^31)"
    )
    results = {
        "ndcg@10": {label: value for label, value, _ in rows},
        "build_eval_s": {label: seconds for label, _, seconds in rows},
        "stats_equal_recount": stats == recount,
        "avgdl_drift": {"mean": float(drift.mean()), "max": float(drift.max())},
        "term_id_collisions": len(terms) - len(ids),
    }
    print(f"results: {write_results('bm25_growth', results, rounds=1)}")


if __name__ == "__main__":
    main()
