"""Eval results as rich tables, JSON and a bar chart PNG."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from rich.console import Console
from rich.table import Table

from vecbridge.evaluation.metrics import LABELS, METRICS


def _fmt(value: Optional[float], digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def metrics_table(result: dict[str, Any]) -> Table:
    """Rows = modes; per configuration one column per metric (side by side), plus latency."""
    configs = result["configs"]
    table = Table(
        title=f"{result['dataset']} / {result['split']}: {result['queries']} queries, {result['documents']} documents",
        title_justify="left",
    )
    table.add_column("mode")
    for config in configs:
        suffix = f" [{config['label']}]" if len(configs) > 1 else ""
        for metric in METRICS:
            table.add_column(LABELS[metric] + suffix, justify="right")
        table.add_column("p50/p95 ms" + suffix, justify="right")
    if len(configs) == 2:
        table.add_column(f"Δ nDCG@10 ({configs[1]['label']} - {configs[0]['label']})", justify="right")
    names = list(dict.fromkeys(row["name"] for config in configs for row in config["modes"]))
    for name in names:
        cells = [name]
        found = []
        for config in configs:
            row = next((r for r in config["modes"] if r["name"] == name), None)
            found.append(row)
            cells += [_fmt(row["metrics"][m]) if row else "-" for m in METRICS]
            lat = row and row["latency"]
            cells.append(f"{lat['p50_ms']:.1f}/{lat['p95_ms']:.1f}" if lat else "-")
        if len(configs) == 2:
            a, b = found
            cells.append(f"{b['metrics']['ndcg@10'] - a['metrics']['ndcg@10']:+.4f}" if a and b else "-")
        table.add_row(*cells)
    return table


def significance_table(result: dict[str, Any]) -> Table:
    table = Table(title=f"paired {result['significance_test']} test, hybrid vs single (nDCG@10)", title_justify="left")
    for column in ("config", "hybrid", "vs single", "hybrid", "single", "p-value", "W/T/L"):
        table.add_column(column, justify="right" if column in ("p-value",) else "left")
    for config in result["configs"]:
        for s in config["significance"]:
            mark = " *" if s["p_value"] < 0.05 else ""
            table.add_row(
                config["label"],
                s["a"],
                s["b"],
                _fmt(s["a_score"]),
                _fmt(s["b_score"]),
                f"{s['p_value']:.4f}{mark}",
                f"{s['wins']}/{s['ties']}/{s['losses']}",
            )
    return table


def cost_table(result: dict[str, Any]) -> Table:
    table = Table(title="costs (seconds)", title_justify="left")
    for column in ("config", "retriever", "model", "encode corpus", "encode queries", "index write", "reused"):
        table.add_column(column)
    for config in result["configs"]:
        for name, seconds in config["encode_seconds"].items():
            table.add_row(
                config["label"],
                name,
                config["models"].get(name, ""),
                f"{seconds:.1f}",
                f"{config['query_encode_seconds'].get(name, 0.0):.2f}",
                f"{config['index_seconds']:.1f}",
                str(config["reused_index"]),
            )
    return table


def print_report(result: dict[str, Any], console: Optional[Console] = None) -> None:
    console = console or Console(markup=False)
    console.print(metrics_table(result))
    console.print(significance_table(result))
    console.print(cost_table(result))
    for note in result.get("notes", []):
        console.print(f"note: {note}", style="yellow", markup=False)


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_chart(result: dict[str, Any], path: Path, metrics: tuple[str, ...] = ("ndcg@10", "recall@100")) -> None:
    """Grouped bars: one group per mode, one bar per (configuration, metric)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    configs = result["configs"]
    names = list(dict.fromkeys(row["name"] for config in configs for row in config["modes"]))
    series = [(config, metric) for config in configs for metric in metrics]
    width = 0.8 / len(series)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(names) + 2), 4.5))
    for i, (config, metric) in enumerate(series):
        by_name = {row["name"]: row["metrics"][metric] for row in config["modes"]}
        values = [by_name.get(n, 0.0) for n in names]
        label = LABELS[metric] + (f" [{config['label']}]" if len(configs) > 1 else "")
        bars = ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=label)
        ax.bar_label(bars, fmt="%.3f", fontsize=6, rotation=90, padding=2)
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylim(0, 1.1)
    ax.set_title(f"{result['dataset']} ({result['split']}, {result['queries']} queries)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def to_markdown(result: dict[str, Any]) -> str:
    """Metrics (per configuration) and significance as GitHub markdown tables."""
    lines = [
        f"{result['dataset']} / {result['split']}: {result['queries']} queries, {result['documents']} documents",
        "",
    ]
    for config in result["configs"]:
        lines += [f"**{config['label']}** ({', '.join(f'{k}={v}' for k, v in config['models'].items())})", ""]
        lines.append("| mode | " + " | ".join(LABELS[m] for m in METRICS) + " | p50 / p95 ms | fusion |")
        lines.append("|---|" + "---:|" * len(METRICS) + "---:|---|")
        for row in config["modes"]:
            lat = row["latency"]
            fusion = f"k={row['rrf_k']:g}, w={row['weights']}, window={row['window']}" if row["rrf_k"] else ""
            lines.append(
                f"| {row['name']} | "
                + " | ".join(f"{row['metrics'][m]:.4f}" for m in METRICS)
                + (f" | {lat['p50_ms']:.1f} / {lat['p95_ms']:.1f}" if lat else " | -")
                + f" | {fusion} |"
            )
        lines += [
            "",
            f"Paired {result['significance_test']} test on nDCG@10 (hybrid vs single):",
            "",
            "| hybrid | single | hybrid nDCG@10 | single nDCG@10 | p-value | W/T/L |",
            "|---|---|---:|---:|---:|---|",
        ]
        for s in config["significance"]:
            lines.append(
                f"| {s['a']} | {s['b']} | {s['a_score']:.4f} | {s['b_score']:.4f} | {s['p_value']:.4f} "
                f"| {s['wins']}/{s['ties']}/{s['losses']} |"
            )
        enc = ", ".join(f"{k} {v:.1f}" for k, v in config["encode_seconds"].items())
        lines += [
            "",
            f"Costs: encode corpus (s) {enc}; index write {config['index_seconds']:.1f} s; "
            f"index reused: {config['reused_index']}.",
            "",
        ]
    return "\n".join(lines)
