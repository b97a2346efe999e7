"""`vecbridge eval` with the store's own BM25 (``text``) on Milvus Lite beside vecbridge's BM25."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.evaluation.helpers import MIXED
from vecbridge.cli import app

runner = CliRunner()


def test_eval_text_mode_on_milvus_lite(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "eval",
            str(MIXED),
            "--split",
            "test",
            "--retrievers",
            "bm25,text",
            "--modes",
            "bm25,text,bm25+text",
            "--bm25-model",
            "bm25:k1=1.2,b=0.75",
            "--text-analyzer",
            "chinese",
            "--latency-queries",
            "2",
            "--cache-dir",
            str(tmp_path / "c"),
            "--out-dir",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads((out / "eval.json").read_text())
    (config,) = data["configs"]
    assert config["models"] == {"bm25": "bm25:k1=1.2,b=0.75", "text": "chinese"}
    rows = {row["name"]: row for row in config["modes"]}
    assert list(rows) == ["bm25", "text", "bm25+text"]
    # Milvus's jieba-based chinese analyzer: a real retriever on the mixed set, not an empty run
    assert rows["text"]["metrics"]["ndcg@10"] > 0.5 and rows["text"]["retrievers"] == ["text"]

    again = runner.invoke(
        app,
        [
            "eval",
            str(MIXED),
            "--split",
            "test",
            "--retrievers",
            "text",
            "--modes",
            "text",
            "--text-analyzer",
            "english",
            "--latency-queries",
            "0",
            "--cache-dir",
            str(tmp_path / "c"),
            "--out-dir",
            str(tmp_path / "out2"),
        ],
    )
    assert again.exit_code == 0, again.output
    other = json.loads((tmp_path / "out2" / "eval.json").read_text())["configs"][0]
    assert other["collection"] != config["collection"]  # another analyzer: another index
