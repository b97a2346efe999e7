"""The committed Chinese and mixed Chinese + English evaluation sets, and the pure helpers that build
and score them (benchmarks/data/make_zh_sets.py, benchmarks/eval_languages.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.data.make_zh_sets import (
    BeirSet,
    has_han,
    has_latin_words,
    merge_sets,
    read_beir,
    sample_beir,
    squad_to_beir,
    write_beir,
)
from benchmarks.eval_languages import goal_rows, markdown_table, ndcg_by_mode
from vecbridge.evaluation.beir import load_beir

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"


@pytest.mark.parametrize("name", ["zh", "mixed_zh_en"])
@pytest.mark.parametrize("split", ["test", "train"])
def test_committed_set_loads_and_is_consistent(name: str, split: str) -> None:
    raw = read_beir(DATA / name)
    dataset = load_beir(DATA / name, split)
    assert dataset.notes == []
    assert len(dataset.queries) == len(raw.qrels[split]) >= 300
    corpus_ids = {d["_id"] for d in raw.corpus}
    query_ids = {q["_id"] for q in raw.queries}
    assert len(corpus_ids) == len(raw.corpus) and len(query_ids) == len(raw.queries)
    for query_id, docs in raw.qrels[split].items():
        assert query_id in query_ids
        assert docs and set(docs) <= corpus_ids
        assert any(score > 0 for score in docs.values())
    assert set(dataset.corpus) == corpus_ids


def test_splits_do_not_share_queries() -> None:
    for name in ("zh", "mixed_zh_en"):
        raw = read_beir(DATA / name)
        assert not set(raw.qrels["test"]) & set(raw.qrels["train"])


def test_zh_set_is_chinese_and_mixed_set_holds_both_scripts_in_equal_parts() -> None:
    zh = read_beir(DATA / "zh")
    assert all(has_han(d["text"]) for d in zh.corpus)
    assert all(has_han(q["text"]) for q in zh.queries)
    mixed = read_beir(DATA / "mixed_zh_en")
    chinese = [d for d in mixed.corpus if has_han(d["text"])]
    english = [d for d in mixed.corpus if not has_han(d["text"]) and has_latin_words(d["text"])]
    assert len(chinese) + len(english) == len(mixed.corpus)
    assert len(chinese) == len(english) == len(zh.corpus)
    for split in ("test", "train"):
        han_queries = [q for q in mixed.qrels[split] if q in {r["_id"] for r in zh.queries}]
        assert len(han_queries) * 2 == len(mixed.qrels[split])


SQUAD = {
    "data": [
        {
            "paragraphs": [
                {
                    "id": f"P{i}",
                    "context": f" 段落{i} ",
                    "qas": [{"id": f"P{i}_Q{j}", "question": f"问题{i}{j}"} for j in range(2)],
                }
                for i in range(5)
            ]
        }
    ]
}


def test_squad_to_beir_draws_disjoint_paragraphs_and_keeps_the_rest_as_distractors() -> None:
    built = squad_to_beir(SQUAD, n_test=2, n_train=2, seed=1)
    assert [d["_id"] for d in built.corpus] == [f"P{i}" for i in range(5)]
    assert built.corpus[0]["text"] == "段落0"
    judged = [d for split in ("test", "train") for docs in built.qrels[split].values() for d in docs]
    assert len(judged) == len(set(judged)) == 4
    for split in ("test", "train"):
        for query_id, docs in built.qrels[split].items():
            assert list(docs) == [query_id.split("_")[0]] and docs[query_id.split("_")[0]] == 1
    assert squad_to_beir(SQUAD, 2, 2, seed=1) == built
    with pytest.raises(ValueError, match="exceeds the 5 paragraphs"):
        squad_to_beir(SQUAD, 3, 3, seed=1)


def _english() -> BeirSet:
    corpus = [{"_id": str(i), "title": "", "text": f"doc {i}"} for i in range(10)]
    queries = [{"_id": f"q{i}", "text": f"query {i}"} for i in range(4)]
    qrels = {"test": {"q0": {"1": 1}, "q1": {"2": 1, "3": 1}}, "train": {"q2": {"4": 1}, "q3": {"99": 1}}}
    return BeirSet(corpus, queries, qrels)


def test_sample_beir_keeps_judged_documents_and_fills_with_others() -> None:
    sample = sample_beir(_english(), n_docs=6, n_queries={"test": 2, "train": 1}, seed=3)
    ids = {d["_id"] for d in sample.corpus}
    assert len(ids) == 6 and {"1", "2", "3", "4"} <= ids
    assert [q["_id"] for q in sample.queries] == ["q0", "q1", "q2"]  # q3 judges a document not in the corpus
    with pytest.raises(ValueError, match="split 'train' has 1 judged queries, 2 requested"):
        sample_beir(_english(), n_docs=6, n_queries={"train": 2}, seed=3)
    with pytest.raises(ValueError, match="more than n_docs = 3"):
        sample_beir(_english(), n_docs=3, n_queries={"test": 2, "train": 1}, seed=3)
    with pytest.raises(ValueError, match="split 'test' has 2 judged queries, 3 requested"):
        sample_beir(_english(), n_docs=6, n_queries={"test": 3}, seed=3)


def test_merge_sets_unions_and_refuses_colliding_ids(tmp_path: Path) -> None:
    zh = squad_to_beir(SQUAD, 1, 1, seed=0)
    merged = merge_sets(zh, _english())
    assert len(merged.corpus) == 15 and len(merged.qrels["test"]) == 3
    write_beir(merged, tmp_path / "m")
    assert read_beir(tmp_path / "m") == merged
    with pytest.raises(ValueError, match="document ids occur in both sets"):
        merge_sets(zh, zh)


def test_goal_rows_compare_each_fused_mode_with_its_own_best_single() -> None:
    scores = {"bm25": 0.9, "dense": 0.3, "splade": 0.5, "bm25+dense": 0.895, "bm25+splade": 0.6, "dense+splade": 0.52}
    goals = goal_rows(scores)
    assert set(goals) == {"bm25+dense", "bm25+splade", "dense+splade"}
    assert goals["bm25+dense"] == {"best_single": "bm25", "delta": -0.005, "met": True}
    assert goals["bm25+splade"]["met"] is False and goals["bm25+splade"]["delta"] == -0.3
    assert goals["dense+splade"]["best_single"] == "splade" and goals["dense+splade"]["met"]
    with pytest.raises(ValueError, match="no single-retriever score"):
        goal_rows({"bm25+dense": 0.5, "bm25": 0.4})
    table = markdown_table({"zh": scores}, modes=("bm25", "bm25+splade", "bm25+dense+splade"))
    assert "| bm25+splade | 0.6000 (-0.300 ✗) |" in table and "| bm25+dense+splade | – |" in table


def test_ndcg_by_mode_reads_the_first_configuration_of_an_eval_result() -> None:
    result = {"configs": [{"modes": [{"name": "bm25", "metrics": {"ndcg@10": 0.5}}]}, {"modes": []}]}
    assert ndcg_by_mode(result) == {"bm25": 0.5}
