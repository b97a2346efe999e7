"""`vecbridge tune` then `vecbridge eval --profile` with two encoder configurations side by side."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.evaluation.helpers import MIXED, named_loader
from tests.facade.fakes import InMemoryConnector
from vecbridge.cli import app
from vecbridge.cli.eval_setup import EvalServices
from vecbridge.evaluation import report

runner = CliRunner()


def test_tune_then_eval_side_by_side(tmp_path):
    services = EvalServices(encoder_loader=named_loader, open_connector=lambda *a: InMemoryConnector())
    common = ["--retrievers", "bm25,dense", "--dense-model", "english-only", "--cache-dir", str(tmp_path / "c")]
    profile = tmp_path / "profile.json"
    result = runner.invoke(app, ["tune", str(MIXED), "--split", "train", "--out", str(profile), *common], obj=services)
    assert result.exit_code == 0, result.output
    saved = json.loads(profile.read_text())
    assert saved["split"] == "train" and set(saved["weights"]) == {"bm25", "dense"}
    assert saved["tuned_score"] >= max(saved["dev_scores"]["bm25"], saved["dev_scores"]["dense"])

    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "eval",
            str(MIXED),
            "--split",
            "test",
            "--profile",
            str(profile),
            "--compare-dense-model",
            "bow",
            "--labels",
            "english,bow",
            "--latency-queries",
            "2",
            "--out-dir",
            str(out),
            *common,
        ],
        obj=services,
    )
    assert result.exit_code == 0, result.output
    data = json.loads((out / "eval.json").read_text())
    assert [c["label"] for c in data["configs"]] == ["english", "bow"]
    assert [c["models"]["dense"] for c in data["configs"]] == ["english-only", "bow"]
    for config in data["configs"]:
        names = [row["name"] for row in config["modes"]]
        assert names == ["bm25", "dense", "bm25+dense", "tuned"]
        tuned = config["modes"][-1]
        assert tuned["rrf_k"] == saved["rrf_k"] or len(tuned["retrievers"]) == 1
    headers = [str(column.header) for column in report.metrics_table(data).columns]
    assert {"nDCG@10 [english]", "nDCG@10 [bow]", "Δ nDCG@10 (bow - english)"} <= set(headers)
    assert (out / "eval.png").is_file()
    assert "| tuned |" in (out / "eval.md").read_text(encoding="utf-8")


def test_an_unknown_scripts_code_is_a_usage_error(tmp_path):
    result = runner.invoke(
        app,
        ["tune", str(MIXED), "--retrievers", "bm25,dense", "--scripts", "dense=xx", "--cache-dir", str(tmp_path / "c")],
        obj=EvalServices(encoder_loader=named_loader),
    )
    assert result.exit_code == 2 and "--scripts 'dense=xx'" in result.output and "'xx'" in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
