"""Paired significance of a fine-tuned dense model against its base on a BEIR split (ranx Fisher test).

Reuses the indexes that ``vecbridge eval --compare-dense-model`` built in the same cache dir, so only
the queries are encoded. Modes are fused with the same code as ``eval`` (language rule included).

    PYTHONPATH=. python benchmarks/finetune_gain.py ../shared/data/scifact --finetuned /work/finetuned-minilm \
        --cache-dir /work/e-scratch/cache [--retrievers bm25,dense,splade]

Equal-weight RRF (k=60, window 100) for every hybrid that contains ``dense``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ranx import compare

from benchmarks.timing import machine_line, write_results
from vecbridge.cli.eval_setup import make_connector
from vecbridge.evaluation import metrics
from vecbridge.evaluation.candidates import split_candidates
from vecbridge.evaluation.encoders import EncoderConfig
from vecbridge.evaluation.modes import Mode, fuse


def runs_for(label: str, dense: str, args) -> dict:
    models = {"bm25": "bm25", "dense": dense, "splade": args.splade}
    names = [r for r in args.retrievers.split(",") if r]
    config = EncoderConfig(label, {r: models[r] for r in names})
    dataset, names, candidates, coverage, fallback = split_candidates(
        args.dataset,
        args.split,
        config,
        lambda: make_connector("milvus", None, args.cache_dir),
        args.cache_dir,
        100,
    )
    qids = list(dataset.queries)
    out = {}
    modes = [Mode("dense", ("dense",))] + [Mode("+".join(m), m, window=100) for m in args.hybrids]
    for mode in modes:
        fused = fuse(candidates, mode, qids, 100, dataset.queries, coverage, fallback)
        out[mode.name] = metrics.to_run(fused, f"{label} {mode.name}")
    return dataset, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--finetuned", required=True)
    parser.add_argument("--base", default="all-MiniLM-L6-v2")
    parser.add_argument("--split", default="test")
    parser.add_argument("--cache-dir", type=Path, default=Path(".vecbridge") / "eval")
    parser.add_argument("--retrievers", default="bm25,dense", help="bm25,dense or bm25,dense,splade")
    parser.add_argument("--splade", default="splade-tiny")
    args = parser.parse_args()
    names = args.retrievers.split(",")
    args.hybrids = [
        m for m in (("bm25", "dense"), ("dense", "splade"), ("bm25", "dense", "splade")) if set(m) <= set(names)
    ]
    dataset, base = runs_for("base", args.base, args)
    _, tuned = runs_for("compare", args.finetuned, args)
    qrels = metrics.to_qrels(dataset.qrels)
    print(machine_line())
    results: dict[str, dict[str, object]] = {}
    for mode in base:
        report = compare(
            qrels,
            [base[mode], tuned[mode]],
            metrics=["ndcg@10"],
            stat_test="fisher",
            n_permutations=1000,
            random_seed=42,
        )
        print(report)
        a, b = base[mode].name, tuned[mode].name
        d = report.to_dict()
        wtl = d[b]["win_tie_loss"][a]["ndcg@10"]
        print(
            f"{mode}: base {d[a]['scores']['ndcg@10']:.4f} fine-tuned {d[b]['scores']['ndcg@10']:.4f} "
            f"p={d[b]['comparisons'][a]['ndcg@10']:.4f} W/T/L={wtl['W']}/{wtl['T']}/{wtl['L']}"
        )
        results[mode] = {
            "base": d[a]["scores"]["ndcg@10"],
            "finetuned": d[b]["scores"]["ndcg@10"],
            "p": d[b]["comparisons"][a]["ndcg@10"],
            "win_tie_loss": wtl,
        }
    print(f"results: {write_results('finetune_gain', results, rounds=1)}")


if __name__ == "__main__":
    main()
