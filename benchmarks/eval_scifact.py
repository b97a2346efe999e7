"""SciFact (BEIR) retrieval quality: tune fusion on train, evaluate every mode on test, compare to references.

    PYTHONPATH=. python benchmarks/eval_scifact.py [--data ../shared/data/scifact] [--cache-dir .vecbridge/eval]

References (nDCG@10, SciFact test): BM25 0.665 (BEIR paper, Elasticsearch), all-MiniLM-L6-v2 0.645 (MTEB).
Goals: BM25 within 0.01 of 0.665; a hybrid RRF >= 0.70 and above every single mode. The index in
``--cache-dir`` is reused when it matches (first run: ingestion of 5,183 docs with three encoders).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.timing import machine_line, write_results
from vecbridge.cli.eval_setup import encoder_configs, make_connector
from vecbridge.evaluation import report
from vecbridge.evaluation.beir import load_beir
from vecbridge.evaluation.runner import EvalOptions, run_eval
from vecbridge.evaluation.tuning_job import run_tune

REFERENCES = {"bm25": ("BEIR paper (BM25, Elasticsearch)", 0.665), "dense": ("MTEB all-MiniLM-L6-v2", 0.645)}


def reference_table(result: dict) -> Table:
    rows = {r["name"]: r["metrics"]["ndcg@10"] for r in result["configs"][0]["modes"]}
    singles = {n: v for n, v in rows.items() if "+" not in n and n != "tuned"}
    table = Table(title="SciFact test nDCG@10 vs references", title_justify="left")
    for column in ("mode", "measured", "reference", "Δ", "goal"):
        table.add_column(column)
    for name, (source, value) in REFERENCES.items():
        if name in rows:
            goal = "within 0.01" if name == "bm25" else "-"
            met = abs(rows[name] - value) <= 0.01 if name == "bm25" else None
            table.add_row(
                name,
                f"{rows[name]:.4f}",
                f"{value:.3f} ({source})",
                f"{rows[name] - value:+.4f}",
                f"{goal}: {'met' if met else 'missed'}" if met is not None else goal,
            )
    for name, value in rows.items():
        if "+" in name or name == "tuned":
            met = value >= 0.70 and all(value > s for s in singles.values())
            table.add_row(name, f"{value:.4f}", "-", "-", f">= 0.70 and > every single: {'met' if met else 'missed'}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--cache-dir", type=Path, default=Path(".vecbridge/eval"))
    parser.add_argument("--out-dir", type=Path, default=Path("eval_results/scifact"))
    parser.add_argument("--latency-queries", type=int, default=100)
    args = parser.parse_args()
    console = Console(width=160)
    (config,) = encoder_configs("bm25,dense,splade", "all-MiniLM-L6-v2", "splade-tiny")
    connect = lambda: make_connector("milvus", None, args.cache_dir)  # noqa: E731
    profile = run_tune(args.data, "train", config, connect, args.cache_dir, console=console)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    profile.save(args.out_dir / "profile_train.json")
    dataset = load_beir(args.data, "test")
    options = EvalOptions(profile=profile, latency_queries=args.latency_queries, progress=True)
    result = run_eval(dataset, [config], connect, args.cache_dir, options)
    report.print_report(result, console)
    console.print(reference_table(result))
    report.write_json(result, args.out_dir / "eval.json")
    report.write_chart(result, args.out_dir / "eval.png")
    (args.out_dir / "eval.md").write_text(report.to_markdown(result), encoding="utf-8")
    console.print(machine_line())
    metrics = {m["name"]: m["metrics"] for m in result["configs"][0]["modes"]}
    print(f"results: {write_results('eval_scifact', {'test': metrics, 'profile': profile.model_dump()}, rounds=1)}")


if __name__ == "__main__":
    main()
