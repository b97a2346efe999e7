"""Build the Chinese (``zh/``) and mixed Chinese + English (``mixed_zh_en/``) BEIR retrieval sets.

    python benchmarks/data/make_zh_sets.py --cmrc-dev PATH/cmrc2018_dev.json \
        [--scifact ../shared/data/scifact] [--out benchmarks/data]

Chinese source: CMRC 2018 (Cui et al., EMNLP 2019), ``squad-style-data/cmrc2018_dev.json`` of
github.com/ymcui/cmrc2018 (CC BY-SA 4.0). Each paragraph is a passage; one question per chosen
paragraph is a query whose relevant passage (score 1) is that paragraph. ``test`` and ``train``
queries come from disjoint paragraphs; every other paragraph stays in the corpus as a distractor.

The mixed set is the Chinese set plus an English part of equal size (as many documents, test and
train queries) sampled from BEIR SciFact: every document judged for a chosen English query, then
random other SciFact documents. Both languages share one corpus, so every query sees distractors
in the other language. Output is deterministic for a given ``--seed``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


@dataclass
class BeirSet:
    """A BEIR set in memory: corpus rows (_id, title, text), query rows (_id, text), qrels per split."""

    corpus: list[dict[str, str]]
    queries: list[dict[str, str]]
    qrels: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)


def has_han(text: str) -> bool:
    """True when ``text`` contains a CJK unified ideograph."""
    return HAN.search(text) is not None


def has_latin_words(text: str) -> bool:
    """True when ``text`` contains a Latin word of three letters or more."""
    return LATIN_WORD.search(text) is not None


def squad_to_beir(squad: dict[str, Any], n_test: int, n_train: int, seed: int) -> BeirSet:
    """Turn a SQuAD-style reading-comprehension file into a passage-retrieval set.

    Paragraphs become passages; ``n_test`` + ``n_train`` distinct paragraphs are drawn and one of
    their questions each becomes a query of that split, relevant to its own paragraph only.
    """
    paragraphs = [p for article in squad["data"] for p in article["paragraphs"] if p.get("qas")]
    if n_test + n_train > len(paragraphs):
        raise ValueError(f"n_test + n_train = {n_test + n_train} exceeds the {len(paragraphs)} paragraphs")
    ids = [p["id"] for p in paragraphs]
    if len(set(ids)) != len(ids):
        raise ValueError("paragraph ids are not unique")
    rng = random.Random(seed)
    chosen = rng.sample(range(len(paragraphs)), n_test + n_train)
    corpus = [{"_id": p["id"], "title": "", "text": p["context"].strip()} for p in paragraphs]
    queries: list[dict[str, str]] = []
    qrels: dict[str, dict[str, dict[str, int]]] = {"test": {}, "train": {}}
    for position, index in enumerate(chosen):
        paragraph = paragraphs[index]
        qa = rng.choice(paragraph["qas"])
        split = "test" if position < n_test else "train"
        queries.append({"_id": qa["id"], "text": qa["question"].strip()})
        qrels[split][qa["id"]] = {paragraph["id"]: 1}
    return BeirSet(corpus, queries, qrels)


def sample_beir(source: BeirSet, n_docs: int, n_queries: dict[str, int], seed: int) -> BeirSet:
    """A sample of ``source``: ``n_queries[split]`` queries per split among those with a positive
    judgment on a document of the corpus, every document they judge (and the corpus holds), then
    random other documents up to ``n_docs`` (corpus order kept)."""
    rng = random.Random(seed)
    texts = {q["_id"] for q in source.queries}
    doc_ids = {d["_id"] for d in source.corpus}
    qrels: dict[str, dict[str, dict[str, int]]] = {}
    for split, count in n_queries.items():
        judged = sorted(
            q
            for q, docs in source.qrels[split].items()
            if q in texts and any(score > 0 and d in doc_ids for d, score in docs.items())
        )
        if count > len(judged):
            raise ValueError(f"split {split!r} has {len(judged)} judged queries, {count} requested")
        picked = judged if count == len(judged) else rng.sample(judged, count)
        qrels[split] = {q: dict(source.qrels[split][q]) for q in sorted(picked, key=_numeric_first)}
    needed = {d for per_split in qrels.values() for docs in per_split.values() for d in docs if d in doc_ids}
    if len(needed) > n_docs:
        raise ValueError(f"the chosen queries judge {len(needed)} documents, more than n_docs = {n_docs}")
    others = sorted(doc_ids - needed, key=_numeric_first)
    keep = needed | set(rng.sample(others, n_docs - len(needed)))
    for per_split in qrels.values():
        for q, docs in per_split.items():
            per_split[q] = {d: s for d, s in docs.items() if d in keep}
    query_ids = {q for per_split in qrels.values() for q in per_split}
    return BeirSet(
        [d for d in source.corpus if d["_id"] in keep],
        [q for q in source.queries if q["_id"] in query_ids],
        qrels,
    )


def merge_sets(first: BeirSet, second: BeirSet) -> BeirSet:
    """One set with both corpora, both query lists and the union of qrels; ids must not collide."""
    for what, a, b in (
        ("document", first.corpus, second.corpus),
        ("query", first.queries, second.queries),
    ):
        clash = {r["_id"] for r in a} & {r["_id"] for r in b}
        if clash:
            raise ValueError(f"{what} ids occur in both sets: {sorted(clash)[:5]}")
    splits = sorted(set(first.qrels) | set(second.qrels))
    qrels = {s: {**first.qrels.get(s, {}), **second.qrels.get(s, {})} for s in splits}
    return BeirSet(first.corpus + second.corpus, first.queries + second.queries, qrels)


def read_beir(root: Path) -> BeirSet:
    """Read a BEIR folder (corpus.jsonl, queries.jsonl, qrels/*.tsv) as plain rows."""
    corpus = [json.loads(line) for line in _lines(root / "corpus.jsonl")]
    queries = [json.loads(line) for line in _lines(root / "queries.jsonl")]
    qrels: dict[str, dict[str, dict[str, int]]] = {}
    for path in sorted((root / "qrels").glob("*.tsv")):
        per_query: dict[str, dict[str, int]] = {}
        for line in list(_lines(path))[1:]:
            query_id, doc_id, score = line.split("\t")[:3]
            per_query.setdefault(query_id, {})[doc_id] = int(float(score))
        qrels[path.stem] = per_query
    return BeirSet(
        [{"_id": str(d["_id"]), "title": d.get("title", ""), "text": d["text"]} for d in corpus],
        [{"_id": str(q["_id"]), "text": q["text"]} for q in queries],
        qrels,
    )


def write_beir(data: BeirSet, root: Path) -> None:
    """Write ``data`` in BEIR layout under ``root`` (UTF-8, one JSON object per line)."""
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    for name, rows in (("corpus.jsonl", data.corpus), ("queries.jsonl", data.queries)):
        with (root / name).open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    for split, per_query in data.qrels.items():
        with (root / "qrels" / f"{split}.tsv").open("w", encoding="utf-8") as handle:
            handle.write("query-id\tcorpus-id\tscore\n")
            for query_id, docs in per_query.items():
                for doc_id, score in docs.items():
                    handle.write(f"{query_id}\t{doc_id}\t{score}\n")


def _lines(path: Path) -> Iterable[str]:
    with path.open(encoding="utf-8") as handle:
        yield from (line.rstrip("\n") for line in handle if line.strip())


def _numeric_first(value: str) -> tuple[int, int | str]:
    return (0, int(value)) if value.isdigit() else (1, value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cmrc-dev", type=Path, required=True, help="squad-style-data/cmrc2018_dev.json")
    parser.add_argument("--scifact", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data"))
    parser.add_argument("--test-queries", type=int, default=300)
    parser.add_argument("--train-queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=24)
    args = parser.parse_args()
    squad = json.loads(args.cmrc_dev.read_text(encoding="utf-8"))
    zh = squad_to_beir(squad, args.test_queries, args.train_queries, args.seed)
    english = sample_beir(
        read_beir(args.scifact),
        n_docs=len(zh.corpus),
        n_queries={"test": args.test_queries, "train": args.train_queries},
        seed=args.seed,
    )
    mixed = merge_sets(zh, english)
    for name, data in (("zh", zh), ("mixed_zh_en", mixed)):
        write_beir(data, args.out / name)
        counts = ", ".join(f"{s} {len(q)} queries" for s, q in data.qrels.items())
        print(f"{args.out / name}: {len(data.corpus)} documents, {counts}")


if __name__ == "__main__":
    main()
