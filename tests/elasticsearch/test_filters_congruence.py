"""Random filter trees: the compiled ES filter selects exactly the documents ``vecbridge.schemas.matches``
accepts (missing keys, nulls, Not, != and not in included). Runs on the noida-db EMULATOR unless
VECBRIDGE_TEST_ES_URL names a real Elasticsearch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.elasticsearch.data import make_batch, make_spec
from vecbridge.connectors.elasticsearch import ElasticsearchConnector
from vecbridge.schemas import Filter, matches, parse_filter

VALUES: dict[str, list[Any]] = {
    "year": [1995, 2000, 2003, 2010, 2024],
    "lang": ["en", "de", "zh", 'O\'Brien "q" \\x', "fr"],
    "score": [0.0, 0.25, 0.5, 0.9],
    "ok": [True, False],
}
NUMERIC = {"year", "score"}


def random_filter(rng: np.random.Generator, depth: int = 0) -> Filter:
    roll = rng.random()
    if depth < 3 and roll < 0.35:
        kind = str(rng.choice(["all", "any", "not"]))
        if kind == "not":
            return parse_filter({"not": random_filter(rng, depth + 1)})
        return parse_filter({kind: [random_filter(rng, depth + 1) for _ in range(int(rng.integers(1, 4)))]})
    key = str(rng.choice(list(VALUES)))
    ops = ["==", "!=", "in", "not in"] + (["<", "<=", ">", ">="] if key in NUMERIC else [])
    op = str(rng.choice(ops))
    pool = VALUES[key]
    if op in ("in", "not in"):
        value: Any = [pool[i] for i in rng.choice(len(pool), size=int(rng.integers(1, 3)), replace=False)]
    else:
        value = pool[int(rng.integers(len(pool)))]
    return parse_filter({"key": key, "op": op, "value": value})


@pytest.mark.parametrize("seed", range(4))
def test_emulator_random_filters_agree_with_oracle(
    connector: ElasticsearchConnector, index_name: str, seed: int
) -> None:
    connector.ensure_collection(make_spec(index_name))
    batch = make_batch(120, seed=seed)
    connector.upsert(index_name, batch)
    rng = np.random.default_rng(100 + seed)
    query = batch.dense[0]
    for _ in range(25):
        flt = random_filter(rng)
        expected = {d.id for d in batch.documents if matches(flt, d.metadata)}
        assert connector.count(index_name, flt) == len(expected), flt
        hits = connector.search_dense(index_name, query, 120, filter=flt)
        assert {h.id for h in hits} == expected, flt


def test_emulator_cjk_analyzer(connector: ElasticsearchConnector, index_name: str) -> None:
    """``text_analyzer="cjk"`` (built in, bigrams) makes Chinese text searchable by words."""
    from vecbridge.schemas import Document, IndexBatch

    conn = ElasticsearchConnector(connector.config.model_copy(update={"text_analyzer": "cjk"}))
    spec = make_spec(index_name)
    conn.ensure_collection(spec)
    texts = {"a": "我爱北京天安门", "b": "上海是一个城市", "c": "北京大学"}
    conn.upsert(index_name, IndexBatch(documents=[Document(id=k, text=v) for k, v in texts.items()]))
    assert {h.id for h in conn.search_text(index_name, "北京", 5)} == {"a", "c"}
    other = ElasticsearchConnector(connector.config)  # standard analyzer: a mismatch naming the analyzer
    from vecbridge.schemas import CollectionMismatchError

    with pytest.raises(CollectionMismatchError, match="analyzer: index has 'cjk', spec wants 'standard'"):
        other.ensure_collection(spec)
    conn.close()
    other.close()
