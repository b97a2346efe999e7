"""The committed Chinese and mixed Chinese + English evaluation sets, and the pure helpers that build
and score them (benchmarks/data/make_zh_sets.py, benchmarks/eval_languages.py)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from vecbridge.evaluation.beir import load_beir

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def has_han(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def has_latin_words(text: str) -> bool:
    return bool(_LATIN_WORD.search(text))


def read_beir(folder: Path) -> SimpleNamespace:
    """The raw BEIR files of ``folder``: corpus and query rows, qrels per split."""

    def rows(name: str) -> list[dict]:
        with open(folder / name, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]

    qrels: dict[str, dict[str, dict[str, int]]] = {}
    for path in sorted((folder / "qrels").glob("*.tsv")):
        split: dict[str, dict[str, int]] = {}
        with open(path, encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                split.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
        qrels[path.stem] = split
    return SimpleNamespace(corpus=rows("corpus.jsonl"), queries=rows("queries.jsonl"), qrels=qrels)


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
