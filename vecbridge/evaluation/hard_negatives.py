"""Training files from BEIR qrels, with hard negatives mined from a vecbridge index.

Like FlagEmbedding's ``hn_mine``: for each query take the ranked candidates in the slice
``[start:end]`` (``range_for_sampling="2-200"``: skip the top 2, stop at 200), drop the positives,
sample ``negatives`` of them; too few candidates are topped up with random corpus passages.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

from vecbridge.schemas import ConfigurationError, Hit


def parse_range(text: str) -> tuple[int, int]:
    """``"2-200"`` -> ``(2, 200)`` (0-based slice of the ranking, as in FlagEmbedding)."""
    try:
        start, end = (int(p) for p in text.split("-"))
    except ValueError:
        raise ConfigurationError(f"range {text!r}: expected START-END, e.g. 2-200") from None
    if not 0 <= start < end:
        raise ConfigurationError(f"range {text!r}: need 0 <= START < END")
    return start, end


def sample_negatives(
    qid: str,
    ranked: Sequence[Hit],
    positives: set[str],
    corpus_ids: Sequence[str],
    start: int,
    end: int,
    n: int,
    seed: int,
) -> list[str]:
    """Document ids of ``n`` negatives for one query; deterministic in (seed, query id)."""
    rng = random.Random(f"{seed}:{qid}")
    pool = [h.id for h in ranked[start:end] if h.id not in positives]
    chosen = rng.sample(pool, n) if len(pool) > n else list(pool)
    if len(chosen) < n:
        taken = positives | set(chosen)
        rest = [d for d in corpus_ids if d not in taken]
        chosen += rng.sample(rest, min(n - len(chosen), len(rest)))
    return chosen


def build_examples(
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    texts: Mapping[str, str],
    ranked: Mapping[str, Sequence[Hit]],
    start: int,
    end: int,
    negatives: int,
    seed: int,
    prompt: Optional[str] = None,
) -> list[dict[str, Any]]:
    """One FlagEmbedding example per query with at least one positive passage in the corpus."""
    corpus_ids = sorted(texts)
    out = []
    for qid, query in queries.items():
        positives = {d for d, grade in qrels.get(qid, {}).items() if grade > 0 and d in texts}
        if not positives:
            continue
        judged = set(qrels.get(qid, {}))  # judged non-relevant passages are kept out of negatives too
        neg = sample_negatives(qid, ranked.get(qid, []), positives | judged, corpus_ids, start, end, negatives, seed)
        example: dict[str, Any] = {
            "query": query,
            "pos": [texts[d] for d in sorted(positives)],
            "neg": [texts[d] for d in neg],
        }
        if prompt:
            example["prompt"] = prompt
        out.append(example)
    return out


def write_jsonl(examples: Sequence[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps(example, ensure_ascii=False) + "\n")
