"""Damaged or hand-edited checkpoints are refused with one message naming the file and the field;
``--resume`` never trusts a checkpoint that cannot be right."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from vecbridge import HybridIndex
from vecbridge.ingest import ingest
from vecbridge.ingest.checkpoint import Checkpoint
from vecbridge.schemas import ConfigurationError


@pytest.fixture()
def saved(tmp_path):
    """A 50-line file ingested with a checkpoint: (input path, checkpoint path, its JSON)."""
    path, checkpoint = tmp_path / "in.jsonl", tmp_path / "in.checkpoint.json"
    path.write_text("".join(json.dumps({"id": f"d{i}", "text": f"text {i}"}) + "\n" for i in range(50)))
    index = HybridIndex.create(InMemoryConnector(), "ckpt", dense=BagOfWordsEncoder())
    ingest(index, path, checkpoint=checkpoint, batch_size=20)
    return path, checkpoint, json.loads(checkpoint.read_text())


def test_an_intact_checkpoint_loads(saved):
    _, checkpoint, data = saved
    loaded = Checkpoint.load(checkpoint)
    assert (loaded.line, loaded.totals["read"], loaded.complete) == (data["line"], 50, True)


DAMAGE = {
    "a list": lambda d: [1, 2],
    "null": lambda d: None,
    "totals null": lambda d: {**d, "totals": None},
    "line many": lambda d: {**d, "line": "many"},
    "line -3": lambda d: {**d, "line": -3},
    "line true": lambda d: {**d, "line": True},
    "offset past the end": lambda d: {**d, "offset": 10**9},
    "totals unbalanced": lambda d: {**d, "totals": {**d["totals"], "read": 100}},
    "unknown field": lambda d: {**d, "extra": 1},
    "no source": lambda d: {k: v for k, v in d.items() if k != "source"},
    "line a list": lambda d: {**d, "line": [[[[]]]]},
    "bad hash": lambda d: {**d, "source": {**d["source"], "head_sha256": "x"}},
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_checkpoint_is_refused_naming_the_file_and_field(saved, damage):
    _, checkpoint, data = saved
    checkpoint.write_text(json.dumps(DAMAGE[damage](data)))
    with pytest.raises(ConfigurationError) as err:
        Checkpoint.load(checkpoint)
    message = str(err.value)
    assert str(checkpoint) in message and "\n" not in message


def test_a_deeply_nested_checkpoint_is_refused(saved):
    _, checkpoint, _ = saved
    checkpoint.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(ConfigurationError, match="nests deeper"):
        Checkpoint.load(checkpoint)


@pytest.mark.parametrize("field,value", [("line", -3), ("line", "many"), ("totals", None)])
def test_resume_on_a_damaged_checkpoint_fails_before_writing(saved, field, value):
    path, checkpoint, data = saved
    checkpoint.write_text(json.dumps({**data, field: value, "complete": False}))
    index = HybridIndex.create(InMemoryConnector(), "ckpt", dense=BagOfWordsEncoder())
    with pytest.raises(ConfigurationError, match=field):
        ingest(index, path, checkpoint=checkpoint, resume=True)
    assert index.count() == 0


def test_cli_resume_on_a_damaged_checkpoint_is_one_error_line(saved, monkeypatch, tmp_path):
    from vecbridge.cli import app

    path, checkpoint, data = saved
    checkpoint.write_text(json.dumps({**data, "line": -3}))
    monkeypatch.chdir(tmp_path)
    for key, value in {
        "URI": str(tmp_path / "cli.db"),
        "COLLECTION": "ckpt",
        "DENSE_MODEL": "none",
        "SPARSE_MODEL": "bm25",
        "BACKEND": "milvus",
    }.items():
        monkeypatch.setenv(f"VECBRIDGE_{key}", value)
    result = CliRunner().invoke(app, ["ingest", str(path), "--resume", "--checkpoint", str(checkpoint)])
    assert result.exit_code == 2, result.output
    assert "line=-3" in result.output and "Traceback" not in result.output
