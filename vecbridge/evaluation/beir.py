"""BEIR-format folders: ``corpus.jsonl`` (_id, title, text), ``queries.jsonl``, ``qrels/<split>.tsv``."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from vecbridge.ingest import read_jsonl
from vecbridge.schemas import ConfigurationError, Document


@dataclass
class BeirDataset:
    """One split of a BEIR dataset: documents by id, query texts by id, graded qrels."""

    name: str
    split: str
    corpus: dict[str, Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    notes: list[str] = field(default_factory=list)

    def fingerprint(self) -> str:
        """sha256 over the documents (id + text), in id order: identifies an ingested corpus."""
        digest = hashlib.sha256()
        for doc_id in sorted(self.corpus):
            digest.update(doc_id.encode())
            digest.update(b"\0")
            digest.update(self.corpus[doc_id].text.encode())
            digest.update(b"\1")
        return digest.hexdigest()


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``query-id<TAB>corpus-id<TAB>score`` with a header row; scores are ints."""
    if not path.is_file():
        raise ConfigurationError(f"qrels file {str(path)!r} does not exist")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:3]] != ["query-id", "corpus-id", "score"]:
            raise ConfigurationError(f"{path}: expected header 'query-id corpus-id score', got {header!r}")
        for number, row in enumerate(reader, 2):
            if not row:
                continue
            if len(row) < 3:
                raise ConfigurationError(f"{path}:{number}: expected 3 tab-separated columns, got {row!r}")
            try:
                score = int(float(row[2]))
            except ValueError:
                raise ConfigurationError(f"{path}:{number}: score {row[2]!r} is not a number") from None
            qrels.setdefault(row[0], {})[row[1]] = score
    return qrels


def read_queries(path: Path) -> dict[str, str]:
    """Query texts by ``_id`` from ``queries.jsonl``."""
    queries: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not isinstance(row.get("text"), str) or "_id" not in row:
                raise ConfigurationError(f"{path}:{number}: a query needs '_id' and a string 'text'")
            queries[str(row["_id"])] = row["text"]
    return queries


def load_beir(
    path: str | Path,
    split: str = "test",
    limit_queries: Optional[int] = None,
    max_docs: Optional[int] = None,
) -> BeirDataset:
    """Load one split. Only queries with a positive judgment are kept (in ``queries.jsonl`` order).

    ``limit_queries``: keep the first N of them. ``max_docs``: keep every document judged for the
    kept queries, then fill up with the first other documents of the corpus file up to N (a small,
    still meaningful slice for quick runs and tests).
    """
    root = Path(path)
    for name in ("corpus.jsonl", "queries.jsonl"):
        if not (root / name).is_file():
            raise ConfigurationError(f"{str(root)!r} is not a BEIR folder: {name} is missing")
    qrels_all = read_qrels(root / "qrels" / f"{split}.tsv")
    texts = read_queries(root / "queries.jsonl")
    missing = [q for q in qrels_all if q not in texts]
    if missing:
        raise ConfigurationError(f"qrels/{split}.tsv names queries absent from queries.jsonl: {missing[:5]}")
    kept = [q for q in texts if any(s > 0 for s in qrels_all.get(q, {}).values())]
    if limit_queries is not None:
        if limit_queries <= 0:
            raise ConfigurationError(f"limit_queries must be > 0, got {limit_queries}")
        kept = kept[:limit_queries]
    qrels = {q: qrels_all[q] for q in kept}
    corpus = _subset(read_jsonl(root / "corpus.jsonl"), qrels, max_docs)
    notes = []
    unknown = sorted({d for judged in qrels.values() for d in judged if d not in corpus})
    if unknown and max_docs is None:
        notes.append(f"{len(unknown)} judged documents are not in the corpus: {unknown[:5]}")
    return BeirDataset(root.name, split, corpus, {q: texts[q] for q in kept}, qrels, notes)


def _subset(documents, qrels: dict[str, dict[str, int]], max_docs: Optional[int]) -> dict[str, Document]:
    if max_docs is None:
        return {d.id: d for d in documents}
    if max_docs <= 0:
        raise ConfigurationError(f"max_docs must be > 0, got {max_docs}")
    judged = {d for per_query in qrels.values() for d in per_query}
    docs = list(documents)
    chosen = [d for d in docs if d.id in judged]
    room = max(max_docs - len(chosen), 0)
    chosen += [d for d in docs if d.id not in judged][:room]
    order = {d.id: i for i, d in enumerate(docs)}
    return {d.id: d for d in sorted(chosen, key=lambda d: order[d.id])}
