"""`vecbridge eval --backend elasticsearch` (the noida-db EMULATOR unless ``VECBRIDGE_TEST_ES_URL``)
gives the same metrics as the brute-force in-memory store: fusion is client-side and search exact."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.evaluation.helpers import MIXED, named_loader
from tests.facade.fakes import InMemoryConnector
from vecbridge.cli import app
from vecbridge.cli.eval_setup import EvalServices
from vecbridge.testing.es_emulator import external_es_auth

runner = CliRunner()
ARGS = ["--split", "test", "--retrievers", "bm25,dense", "--dense-model", "bow", "--latency-queries", "2"]


def _ndcg(out_dir) -> dict[str, float]:
    data = json.loads((out_dir / "eval.json").read_text())
    return {row["name"]: row["metrics"]["ndcg@10"] for row in data["configs"][0]["modes"]}


def test_eval_on_elasticsearch_matches_the_in_memory_store(es_url, tmp_path, monkeypatch):
    monkeypatch.setenv("VECBRIDGE_ES_URL", es_url)
    for key, value in external_es_auth().items():
        monkeypatch.setenv(f"VECBRIDGE_ES_{key.upper()}", str(value))
    es_out, mem_out = tmp_path / "es", tmp_path / "mem"
    result = runner.invoke(
        app,
        [
            "eval",
            str(MIXED),
            *ARGS,
            "--backend",
            "elasticsearch",
            "--cache-dir",
            str(tmp_path / "es_cache"),
            "--out-dir",
            str(es_out),
        ],
        obj=EvalServices(encoder_loader=named_loader),
    )
    assert result.exit_code == 0, result.output

    in_memory = EvalServices(encoder_loader=named_loader, open_connector=lambda *a: InMemoryConnector())
    result = runner.invoke(
        app,
        ["eval", str(MIXED), *ARGS, "--cache-dir", str(tmp_path / "mem_cache"), "--out-dir", str(mem_out)],
        obj=in_memory,
    )
    assert result.exit_code == 0, result.output
    es, mem = _ndcg(es_out), _ndcg(mem_out)
    assert set(es) == {"bm25", "dense", "bm25+dense"} == set(mem)
    # sparse weights are stored with 9 significant bits in ES: near-ties may swap, nothing more
    assert es == pytest.approx(mem, abs=0.02)
