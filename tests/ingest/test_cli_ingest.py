"""`vecbridge ingest` on embedded Milvus Lite with a corpus holding every kind of bad input: each bad
line gets a dead-letter row, every valid document is stored, the accounting matches the store."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("milvus_lite")

from vecbridge.cli import app  # noqa: E402
from vecbridge.config import open_index  # noqa: E402
from vecbridge.schemas import Settings  # noqa: E402

BAD_INPUT = Path(__file__).parent / "data" / "bad_input.jsonl"
runner = CliRunner()

EXPECTED = {  # line -> (id, stage, words of the reason)
    7: (None, "read", "invalid UTF-8 at byte 27 of line 7"),
    8: (None, "read", "invalid JSON"),
    9: ("dup", "duplicate", "superseded by line 10"),
    11: ("num", "read", "field 'text' must be a string, got int 12345"),
    12: (None, "read", "missing field 'id'"),
    13: ("notext", "read", "missing field 'text'"),
    14: ("meta", "read", "field 'metadata' must be an object"),
    15: ("badyear", "write", "year"),
    16: (None, "read", "expected a JSON object, got list"),
}


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key, value in {
        "URI": str(tmp_path / "ingest.db"),
        "COLLECTION": "bad",
        "STATE_DIR": str(tmp_path / "state"),
        "DENSE_MODEL": "none",
        "SPARSE_MODEL": "bm25",
        "BACKEND": "milvus",
    }.items():
        monkeypatch.setenv(f"VECBRIDGE_{key}", value)
    shutil.copy(BAD_INPUT, tmp_path / "in.jsonl")
    return tmp_path


def _store_state(ids):
    index = open_index(Settings())
    try:
        return index.count(), {d.id: d for d in index.get(ids)}
    finally:
        index.connector.close()


def test_every_bad_line_is_dead_lettered_and_every_valid_document_stored(env):
    result = runner.invoke(app, ["ingest", "in.jsonl", "-f", "year:int", "--batch-size", "5", "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "read: 22  written: 13  failed: 8  skipped: 1" in result.output
    assert "dead letters: 9 rows in in.jsonl.bad.dead-letter.jsonl" in result.output
    letters = [json.loads(line) for line in (env / "in.jsonl.bad.dead-letter.jsonl").read_text().splitlines()]
    assert {row["line"]: (row["id"], row["stage"]) for row in letters} == {k: v[:2] for k, v in EXPECTED.items()}
    raw_lines = BAD_INPUT.read_bytes().splitlines()
    for row in letters:
        assert EXPECTED[row["line"]][2] in row["reason"]
        assert row["raw"] == raw_lines[row["line"] - 1].decode("utf-8", "backslashreplace")
    valid = [f"ok{i}" for i in range(1, 13)] + ["dup"]
    count, stored = _store_state(valid + ["badyear", "num"])
    assert count == 13 and sorted(stored) == sorted(valid)
    assert stored["dup"].text == "second version of dup"  # the last occurrence in a batch wins
    saved = json.loads((env / "in.jsonl.bad.checkpoint.json").read_text())
    assert saved["complete"] and saved["totals"] == {"read": 22, "written": 13, "failed": 8, "skipped": 1}


def test_on_error_stop_then_resume(env):
    args = ["ingest", "in.jsonl", "-f", "year:int", "--batch-size", "5", "--no-progress", "--on-error", "stop"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "stopped at line 7 (--on-error stop)" in result.output, result.output
    assert _store_state([])[0] == 6
    result = runner.invoke(app, args[:-2] + ["--resume"])
    assert result.exit_code == 1 and "resumed after line 7" in result.output, result.output
    assert "whole file: read: 22  written: 13  failed: 8  skipped: 1" in result.output
    assert _store_state([])[0] == 13
    again = runner.invoke(app, args[:-2] + ["--resume"])
    assert again.exit_code == 0 and "nothing left to ingest" in again.output


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--overlap", "2"], "--overlap needs --chunk-tokens"),
        (["--chunk-tokens", "4", "--overlap", "4"], "overlap must be >= 0 and < chunk_tokens (4), got 4"),
        (["--resume"], "--resume: no checkpoint at 'in.jsonl.bad.checkpoint.json'"),
        (["--format", "csv", "--resume", "--checkpoint", "x.json"], "no checkpoint at 'x.json'"),
    ],
)
def test_usage_errors_exit_2_before_loading_models(env, extra, message):
    result = runner.invoke(app, ["ingest", "in.jsonl", "--no-progress", *extra])
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output


def test_resume_refuses_a_changed_file(env):
    good = env / "good.jsonl"
    good.write_text("".join(json.dumps({"id": f"g{i}", "text": f"text {i}", "year": i}) + "\n" for i in range(3)))
    assert runner.invoke(app, ["ingest", "good.jsonl", "-f", "year:int", "--no-progress"]).exit_code == 0
    good.write_text(good.read_text() + json.dumps({"id": "g9", "text": "more", "year": 9}) + "\n")
    result = runner.invoke(app, ["ingest", "good.jsonl", "-f", "year:int", "--no-progress", "--resume"])
    assert result.exit_code == 2 and "is not the file checkpointed" in result.output, result.output
