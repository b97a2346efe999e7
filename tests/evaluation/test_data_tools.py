"""`vecbridge data validate` and `vecbridge data from-beir`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.evaluation.helpers import MIXED, mixed_loader
from tests.facade.fakes import InMemoryConnector
from vecbridge.cli import app
from vecbridge.cli.eval_setup import EvalServices
from vecbridge.evaluation.hard_negatives import parse_range, sample_negatives
from vecbridge.evaluation.training_data import validate_file
from vecbridge.schemas import ConfigurationError, Hit

runner = CliRunner()

BAD_LINES = [
    '{"query": "ok", "pos": ["p"], "neg": ["n"]}',  # 1 good
    '{"query": "", "pos": ["p"], "neg": []}',  # 2 empty query
    '{"query": "q", "pos": [], "neg": []}',  # 3 empty pos
    '{"query": "q", "pos": ["p"]}',  # 4 neg missing
    '{"query": "q", "pos": ["p"], "neg": "n"}',  # 5 neg not a list
    "not json",  # 6
    '["query"]',  # 7 not an object
    '{"query": "q", "pos": ["p"], "neg": ["a", "b"], "neg_scores": [1]}',  # 8 scores length
    '{"query": "q", "pos": ["  "], "neg": []}',  # 9 blank pos
    '{"query": "q", "pos": ["p"], "neg": [], "pos_scores": ["x"]}',  # 10 score not a number
    "",  # 11 empty line
    '{"query": "q", "pos": ["p"], "neg": [3]}',  # 12 neg item not a string
    # 13 good
    '{"query": "q", "pos": ["p"], "neg": [], "pos_scores": [0.5], "prompt": "Represent: ", "type": "normal"}',
]


@pytest.mark.parametrize("name", ["toy_finetune_data.jsonl", "example_retrieval_msmarco.jsonl"])
def test_flagembedding_examples_validate(toy_dir, name):
    result = runner.invoke(app, ["data", "validate", str(toy_dir / name)])
    assert result.exit_code == 0, result.output
    assert "10 valid, 0 bad" in result.output


def test_every_bad_line_is_reported_with_its_reason(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(BAD_LINES) + "\n", encoding="utf-8")
    report = validate_file(path)
    errors = dict(report.errors)
    assert sorted(errors) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert "query" in errors[2] and "pos" in errors[3] and "neg: Field required" in errors[4]
    assert "neg" in errors[5] and "JSON" in errors[6] and "object" in errors[7]
    assert "neg_scores has 1 values but neg has 2" in errors[8]
    assert "pos.0" in errors[9] and "blank" in errors[9] and "pos_scores.0" in errors[10]
    assert errors[11] == "empty line" and "neg.0" in errors[12]
    result = runner.invoke(app, ["data", "validate", str(path)])
    assert result.exit_code == 1
    for number in errors:
        assert f"bad.jsonl:{number}:" in result.output.replace("\n", "")


def test_range_and_sampling_are_deterministic():
    assert parse_range("2-200") == (2, 200)
    with pytest.raises(ConfigurationError, match="START-END"):
        parse_range("200")
    ranked = [Hit(id=f"d{i}", score=-i) for i in range(50)]
    a = sample_negatives("q1", ranked, {"d3", "d4"}, [h.id for h in ranked], 2, 30, 5, seed=7)
    assert a == sample_negatives("q1", ranked, {"d3", "d4"}, [h.id for h in ranked], 2, 30, 5, seed=7)
    assert len(a) == 5 and not {"d0", "d1", "d3", "d4"} & set(a)
    assert all(int(d[1:]) < 30 for d in a)
    short = sample_negatives("q1", ranked[:4], {"d3"}, [h.id for h in ranked], 2, 30, 5, seed=7)
    assert len(short) == 5 and "d3" not in short  # topped up from the corpus


def test_from_beir_writes_valid_examples_without_positives(tmp_path):
    services = EvalServices(encoder_loader=mixed_loader, open_connector=lambda *a: InMemoryConnector())
    out = tmp_path / "train.jsonl"
    args = [
        "data",
        "from-beir",
        str(MIXED),
        "--split",
        "train",
        "--out",
        str(out),
        "--retrievers",
        "bm25",
        "--range-for-sampling",
        "1-20",
        "--negatives",
        "4",
        "--seed",
        "3",
        "--cache-dir",
        str(tmp_path / "c"),
    ]
    result = runner.invoke(app, args, obj=services)
    assert result.exit_code == 0, result.output
    assert validate_file(out).ok
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 22
    for row in rows:
        assert len(row["neg"]) == 4 and not set(row["neg"]) & set(row["pos"])
    first = out.read_bytes()
    assert runner.invoke(app, args, obj=services).exit_code == 0 and out.read_bytes() == first  # deterministic
