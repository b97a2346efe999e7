"""Every retrieval mode on Chinese, mixed Chinese + English and English SciFact, through ``vecbridge eval``.

    PYTHONPATH=. python benchmarks/eval_languages.py [--sets zh,mixed_zh_en,scifact]
        [--cache-dir .vecbridge/eval-languages] [--out-dir eval_results/languages]
        [--limit-queries N --max-docs N]   # small smoke run

Runs the product's own CLI (default models, equal weights, default settings) once per set on the
``test`` split, then prints the nDCG@10 table and checks the goal of every fused mode: at least
its best single retriever minus 0.01 (one point). Writes ``benchmarks/results/eval_languages.json``
(``--results-name``; ``_smoke`` is appended when the run is sliced).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.timing import machine_line, write_results

HERE = Path(__file__).resolve().parent
SETS = {
    "zh": HERE / "data" / "zh",
    "mixed_zh_en": HERE / "data" / "mixed_zh_en",
    "scifact": Path("../shared/data/scifact"),
}
MODES = ("bm25", "dense", "splade", "bm25+dense", "bm25+splade", "dense+splade", "bm25+dense+splade")
TOLERANCE = 0.01


def ndcg_by_mode(result: dict[str, Any], metric: str = "ndcg@10") -> dict[str, float]:
    """``{mode name: metric}`` of the first configuration of a ``vecbridge eval`` JSON result."""
    return {row["name"]: float(row["metrics"][metric]) for row in result["configs"][0]["modes"]}


def goal_rows(scores: dict[str, float], tolerance: float = TOLERANCE) -> dict[str, dict[str, Any]]:
    """Per fused mode: its best single retriever, the difference to it and whether it is ≥ best − tolerance."""
    rows: dict[str, dict[str, Any]] = {}
    for mode, value in scores.items():
        parts = mode.split("+")
        if len(parts) < 2:
            continue
        missing = [p for p in parts if p not in scores]
        if missing:
            raise ValueError(f"mode {mode!r}: no single-retriever score for {missing}")
        best = max(parts, key=lambda p: scores[p])
        delta = value - scores[best]
        rows[mode] = {"best_single": best, "delta": round(delta, 4), "met": delta >= -tolerance - 1e-12}
    return rows


def markdown_table(per_set: dict[str, dict[str, float]], modes: tuple[str, ...] = MODES) -> str:
    """nDCG@10 per mode (rows) and set (columns); fused cells carry the difference to their best single."""
    names = list(per_set)
    lines = ["| mode | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    goals = {name: goal_rows(scores) for name, scores in per_set.items()}
    for mode in modes:
        cells = []
        for name in names:
            value = per_set[name].get(mode)
            if value is None:
                cells.append("–")
                continue
            goal = goals[name].get(mode)
            mark = "" if goal is None else f" ({goal['delta']:+.3f}{'' if goal['met'] else ' ✗'})"
            cells.append(f"{value:.4f}{mark}")
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_cli(dataset: Path, out_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """``python -m vecbridge eval DATASET --split test`` with default models and settings; its eval.json."""
    command = [sys.executable, "-m", "vecbridge", "eval", str(dataset), "--split", "test"]
    command += ["--cache-dir", str(args.cache_dir), "--out-dir", str(out_dir)]
    command += ["--latency-queries", str(args.latency_queries)]
    if args.limit_queries:
        command += ["--limit-queries", str(args.limit_queries)]
    if args.max_docs:
        command += ["--max-docs", str(args.max_docs)]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True)
    return json.loads((out_dir / "eval.json").read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated among {list(SETS)}")
    parser.add_argument("--cache-dir", type=Path, default=Path(".vecbridge/eval-languages"))
    parser.add_argument("--out-dir", type=Path, default=Path("eval_results/languages"))
    parser.add_argument("--latency-queries", type=int, default=20)
    parser.add_argument("--limit-queries", type=int, default=None)
    parser.add_argument("--max-docs", type=int, default=None)
    parser.add_argument("--results-name", default="eval_languages", help="benchmarks/results/<name>.json")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SETS]
    if unknown:
        parser.error(f"--sets: unknown {unknown}; choose among {list(SETS)}")
    per_set: dict[str, dict[str, float]] = {}
    details: dict[str, Any] = {}
    for name in chosen:
        result = run_cli(SETS[name], args.out_dir / name, args)
        per_set[name] = ndcg_by_mode(result)
        details[name] = {
            "queries": result["queries"],
            "documents": result["documents"],
            "ndcg@10": per_set[name],
            "goal": goal_rows(per_set[name]),
        }
    table = markdown_table(per_set)
    print(f"\nnDCG@10, test split, default models and settings, equal weights ({machine_line()})")
    print(table)
    for name, detail in details.items():
        missed = [m for m, g in detail["goal"].items() if not g["met"]]
        print(f"{name}: fused ≥ best single − {TOLERANCE}: {'met' if not missed else 'missed by ' + ', '.join(missed)}")
    sliced = bool(args.limit_queries or args.max_docs)
    name = f"{args.results_name}_smoke" if sliced else args.results_name
    path = write_results(name, {"sets": details, "table": table}, rounds=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
