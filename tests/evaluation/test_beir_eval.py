"""Eval end to end on a SciFact slice; metrics re-computed here with ranx from facade searches."""

from __future__ import annotations

import json

import pytest
from ranx import Qrels, Run, evaluate

from tests.evaluation.helpers import mixed_loader
from tests.facade.fakes import InMemoryConnector
from vecbridge.evaluation import report
from vecbridge.evaluation.beir import load_beir
from vecbridge.evaluation.encoders import EncoderConfig, build_retrievers
from vecbridge.evaluation.indexing import spec_for
from vecbridge.evaluation.modes import Mode
from vecbridge.evaluation.retrieval import request_for
from vecbridge.evaluation.runner import EvalOptions, corpus_cache, run_eval
from vecbridge.index import HybridIndex

METRICS = ["ndcg@10", "recall@100", "mrr@10", "map@100"]


class KeepOpen(InMemoryConnector):
    """In-memory store that survives ``close`` so a second eval run can reuse it."""


@pytest.fixture(scope="module")
def dataset(scifact_dir):
    return load_beir(scifact_dir, "test", limit_queries=20, max_docs=300)


@pytest.fixture(scope="module")
def evaluated(dataset, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    connector = KeepOpen()
    config = EncoderConfig("base", {"bm25": "bm25", "dense": "fake-dense"})
    options = EvalOptions(modes="all", latency_queries=3)
    first = run_eval(dataset, [config], lambda: connector, cache, options, loader=mixed_loader)
    second = run_eval(dataset, [config], lambda: connector, cache, options, loader=mixed_loader)
    return first, second, connector, cache, config


def test_slice_keeps_every_judged_document(dataset):
    assert len(dataset.queries) == 20 and len(dataset.corpus) == 300
    judged = {d for per_query in dataset.qrels.values() for d in per_query}
    assert judged <= set(dataset.corpus)


def test_metrics_match_ranx_on_facade_runs(dataset, evaluated):
    first, _, connector, cache, config = evaluated
    retrievers = build_retrievers(
        config, [d.text for d in dataset.corpus.values()], corpus_cache(cache, dataset), mixed_loader
    )
    collection = first["configs"][0]["collection"]
    index = HybridIndex(connector, spec_for(collection, retrievers), retrievers)
    qrels = Qrels.from_dict(dataset.qrels)
    rows = {row["name"]: row for row in first["configs"][0]["modes"]}
    assert set(rows) == {"bm25", "dense", "bm25+dense"}
    for name, row in rows.items():
        mode = Mode(name, tuple(row["retrievers"]), row["rrf_k"] or 60.0, row["weights"] or {}, row["window"])
        hits = index.run([request_for(mode, dataset.queries[q], 100) for q in dataset.queries])
        run = Run.from_dict(
            {q: {h.id: 100.0 - i for i, h in enumerate(hs)} for q, hs in zip(dataset.queries, hits, strict=True)}
        )
        expected = evaluate(qrels, run, METRICS)
        for metric in METRICS:
            assert row["metrics"][metric] == pytest.approx(expected[metric], abs=1e-9), (name, metric)
        assert 0.0 < row["metrics"]["recall@100"] <= 1.0


def test_significance_latency_costs_and_reuse(evaluated):
    first, second, *_ = evaluated
    config = first["configs"][0]
    pairs = {(s["a"], s["b"]) for s in config["significance"]}
    assert pairs == {("bm25+dense", "bm25"), ("bm25+dense", "dense")}
    assert all(0.0 <= s["p_value"] <= 1.0 and s["wins"] + s["ties"] + s["losses"] == 20 for s in config["significance"])
    assert all(row["latency"]["p95_ms"] >= row["latency"]["p50_ms"] > 0 for row in config["modes"])
    assert config["reused_index"] is False and second["configs"][0]["reused_index"] is True
    assert second["configs"][0]["modes"] == [
        {**row, "latency": second["configs"][0]["modes"][i]["latency"]} for i, row in enumerate(config["modes"])
    ]


def test_reports_are_written(evaluated, tmp_path):
    first, *_ = evaluated
    report.write_json(first, tmp_path / "eval.json")
    report.write_chart(first, tmp_path / "eval.png")
    assert json.loads((tmp_path / "eval.json").read_text())["configs"][0]["label"] == "base"
    assert (tmp_path / "eval.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report.print_report(first)


def test_milvus_lite_index_is_reused_across_processes_runs(dataset, tmp_path):
    pytest.importorskip("milvus_lite", reason="Milvus Lite (pip install vecbridge[milvus]) is not installed")
    from vecbridge.connectors.milvus import MilvusConnector

    config = EncoderConfig("base", {"bm25": "bm25"})
    options = EvalOptions(modes="bm25", latency_queries=2)
    uri = str(tmp_path / "eval.db")
    first = run_eval(dataset, [config], lambda: MilvusConnector(uri=uri), tmp_path, options, loader=mixed_loader)
    second = run_eval(dataset, [config], lambda: MilvusConnector(uri=uri), tmp_path, options, loader=mixed_loader)
    a, b = first["configs"][0], second["configs"][0]
    assert (a["reused_index"], b["reused_index"]) == (False, True)
    assert a["modes"][0]["metrics"] == b["modes"][0]["metrics"]
    assert a["modes"][0]["metrics"]["ndcg@10"] > 0.3
