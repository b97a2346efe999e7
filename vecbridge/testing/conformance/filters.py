"""Conformance: filters agree with the oracle ``vecbridge.schemas.matches``, incl. nasty strings, missing
keys and nulls (a missing key reads as None), dates, generated filter trees over a table of
documents lacking random keys, and a selective filter (2 of 20,000 rows) that must reach recall 1.0
on dense, sparse and hybrid search.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vecbridge.connectors.base import Connector
from vecbridge.schemas import (
    And,
    CollectionSpec,
    Condition,
    Document,
    Filter,
    IndexBatch,
    Not,
    Or,
    ScalarType,
    SparseVector,
    matches,
)
from vecbridge.schemas.filters import between, eq, is_in, ne, not_in
from vecbridge.testing.conformance.base import ConformanceBase
from vecbridge.testing.data import FILTERABLE, NASTY, make_corpus, spec

SPEC = spec("oracle")
CASES: dict[str, Filter] = {
    "eq_string": eq("genre", "plain"),
    "ne_string": ne("genre", "plain"),
    "eq_int": eq("year", 2001),
    "eq_bool": eq("flag", True),
    "in_int": is_in("year", [1990, 1995, 2019]),
    "not_in_string": not_in("genre", ["plain", "it's"]),
    "range_float": between("price", 20.5, 40),
    "gt_int": Condition(key="year", op=">", value=2015),
    "lt_float_int_literal": Condition(key="price", op="<", value=10),
    "and_or": And(
        all=[Or(any=[eq("genre", "plain"), eq("genre", "x\ty")]), Condition(key="year", op=">=", value=2000)]
    ),
    "not": Not(operand=And(all=[eq("flag", True), Condition(key="price", op="<=", value=50.0)])),
    "not_not_or": Not(operand=Not(operand=Or(any=[is_in("genre", NASTY[:3]), eq("year", 1991)]))),
    "not_in_list": Not(operand=is_in("year", list(range(1990, 2010)))),
    **{f"nasty_{i}": eq("genre", value) for i, value in enumerate(NASTY)},
    "nasty_in": is_in("genre", NASTY[:5]),
    "when_eq_none": eq("when", None),
    "when_ne_none": ne("when", None),
    "when_gt": Condition(key="when", op=">", value="1972-12-11T19:54:58"),
    "when_gt_offset": Condition(key="when", op=">", value="1972-12-11T18:54:58.123+00:00"),
    "when_gte_ms": Condition(key="when", op=">=", value="1972-12-11T18:54:58.123999Z"),
    "when_lte_date": Condition(key="when", op="<=", value="2024-02-29"),
    "when_range_none": Condition(key="when", op="<", value=None),
    "not_when_range_none": Not(operand=Condition(key="when", op="<", value=None)),
    "not_when_lt": Not(operand=Condition(key="when", op="<", value="1980-01-01")),
    "when_in_none": is_in("when", [None, "1989-11-09T17:53:00+00:00"]),
    "when_not_in_none": not_in("when", [None, "2024-02-29T00:00:00"]),
}


# ---- generated filters over documents lacking random keys -----------------------------------
POOLS: dict[str, list[Any]] = {
    "genre": ["", "a", "b", 'q"\\x', None],
    "year": [0, -1, 1, 2000, None],
    "price": [0.0, -0.5, 1.5, 99.0, None],
    "flag": [True, False, None],
    "when": ["1970-01-01T00:00:00", "1969-12-31T23:59:59.999", "2000-01-01T12:00:00+02:00", "2000-01-01", None],
}
"""Values of each key, with the placeholders Milvus stores for missing keys (0, "", false, epoch 0)."""
RANGED = {"year", "price", "when"}


def _sparse_corpus(n: int, seed: int) -> tuple[list[Document], np.ndarray]:
    """Documents each holding a random subset of the keys (values from POOLS, None included)."""
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(n):
        metadata = {k: pool[int(rng.integers(len(pool)))] for k, pool in POOLS.items() if rng.random() < 0.6}
        docs.append(Document(id=f"s{i}", text=f"t{i}", metadata={**metadata, "nested": {"k": [i]}}))
    dense = rng.standard_normal((n, 8)).astype(np.float32)
    return docs, dense / np.linalg.norm(dense, axis=1, keepdims=True)


def random_filter(rng: np.random.Generator, depth: int = 0) -> Filter:
    if depth < 3 and rng.random() < 0.35:
        kind = str(rng.choice(["all", "any", "not"]))
        if kind == "not":
            return Not(operand=random_filter(rng, depth + 1))
        children = [random_filter(rng, depth + 1) for _ in range(int(rng.integers(1, 4)))]
        return And(all=children) if kind == "all" else Or(any=children)
    key = str(rng.choice(list(POOLS)))
    pool = POOLS[key]
    op = str(rng.choice(["==", "!=", "in", "not in"] + (["<", "<=", ">", ">="] if key in RANGED else [])))
    if op in ("in", "not in"):
        value: Any = [pool[j] for j in rng.choice(len(pool), size=int(rng.integers(1, 4)), replace=False)]
    else:
        value = pool[int(rng.integers(len(pool)))]
    return Condition(key=key, op=op, value=value)


# ---- selective filter on 20,000 rows ------------------------------------------------------
BIG_N, BIG_DIM, VOCAB, NNZ, RARE = 20_000, 64, 5000, 8, ("big-4242", "big-17001")
RARE_TAG = 'needle "rare" \\ tag'


@dataclass
class BigStore:
    connector: Connector
    name: str
    dense: np.ndarray
    sparse: list[SparseVector]


def _big_sparse(rng: np.random.Generator) -> list[SparseVector]:
    """8 random tokens per row with weights in [0.01, 1.01); the rare rows get tiny weights
    (0.01-0.02) so hundreds of common rows sharing one of their tokens outscore them."""
    indices = rng.integers(0, VOCAB, (BIG_N, NNZ))
    values = rng.random((BIG_N, NNZ)) + 0.01
    for doc_id in RARE:
        values[int(doc_id.split("-")[1])] = 0.01 + rng.random(NNZ) * 0.01
    rows = []
    for i in range(BIG_N):
        idx, first = np.unique(indices[i], return_index=True)
        rows.append(
            SparseVector.model_construct(indices=idx.astype(np.uint32), values=values[i, first].astype(np.float32))
        )
    return rows


def _queries(store: BigStore) -> tuple[np.ndarray, SparseVector]:
    """Dense: the opposite of the first rare row (its worst match). Sparse: the union of the rare
    rows' tokens (<= 16 terms, weight 1): realistic size, and the rare rows match it but score low."""
    rare_rows = [store.sparse[int(doc_id.split("-")[1])] for doc_id in RARE]
    tokens = np.unique(np.concatenate([v.indices for v in rare_rows]))
    return -store.dense[int(RARE[0].split("-")[1])], SparseVector(indices=tokens, values=np.ones(tokens.size))


SELECTIVE: dict[str, Filter] = {
    "tag_eq": eq("tag", RARE_TAG),
    "rank_range": between("rank", 5, 6),
    "tag_in": is_in("tag", [RARE_TAG, "absent"]),
    "not_common": Not(operand=eq("tag", "common")),
}


class FilterTests(ConformanceBase):
    """Filters agree with the oracle ``vecbridge.schemas.matches``; selective filters reach recall 1.0."""

    @pytest.fixture(scope="class")
    @classmethod
    def loaded(cls, backend, tmp_path_factory: pytest.TempPathFactory):
        """One 300-row collection shared by the (read-only) filter cases of a backend."""
        connector, name = backend.open(tmp_path_factory.mktemp(f"filters-{backend.name}")), "vbconf_filters"
        corpus = make_corpus(300, 16, seed=4)
        connector.ensure_collection(spec(name, 16))
        connector.upsert(name, corpus.batch())
        yield connector, name, corpus
        connector.drop_collection(name)
        connector.close()

    @pytest.mark.parametrize("case", sorted(CASES))
    def test_filter_matches_oracle(self, loaded, case):
        connector, name, corpus = loaded
        node = CASES[case]
        expected = {d.id for d in corpus.documents if matches(node, d.metadata, SPEC)}
        assert connector.count(name, node) == len(expected)
        hits = connector.search_dense(name, corpus.dense[0], 300, filter=node)
        assert {h.id for h in hits} == expected
        assert all(matches(node, h.metadata, SPEC) for h in hits)

    def test_nasty_values_round_trip_through_get(self, loaded):
        connector, name, corpus = loaded
        got = connector.get(name, [d.id for d in corpus.documents[: len(NASTY)]])
        assert [d.metadata["genre"] for d in got] == NASTY

    @pytest.fixture(scope="class")
    @classmethod
    def sparse_loaded(cls, backend, tmp_path_factory: pytest.TempPathFactory):
        connector, name = backend.open(tmp_path_factory.mktemp(f"sparse-{backend.name}")), "vbconf_sparse"
        docs, dense = _sparse_corpus(80, seed=11)
        connector.ensure_collection(
            CollectionSpec(name=name, dense_dim=8, sparse_fields=(), filterable=dict(FILTERABLE))
        )
        connector.upsert(name, IndexBatch(documents=docs, dense=dense))
        yield connector, name, docs, dense
        connector.drop_collection(name)
        connector.close()

    @pytest.mark.parametrize("seed", range(3))
    def test_generated_filters_agree_with_oracle(self, sparse_loaded, seed):
        """Random trees (Not, None values, None in lists, ranges on missing keys, placeholder values)
        select exactly the documents ``matches`` accepts, through count and a filtered search."""
        connector, name, docs, dense = sparse_loaded
        rng = np.random.default_rng(1000 + seed)
        for _ in range(40):
            node = random_filter(rng)
            expected = {d.id for d in docs if matches(node, d.metadata, SPEC)}
            assert connector.count(name, node) == len(expected), node
            if seed == 0:
                assert {h.id for h in connector.search_dense(name, dense[0], 80, filter=node)} == expected, node

    @pytest.fixture(scope="class")
    @classmethod
    def big_store(cls, backend, tmp_path_factory: pytest.TempPathFactory):
        """20,000 rows with random vectors; only ``RARE`` carry ``RARE_TAG`` and ``rank`` in [5, 6]."""
        workdir: Path = tmp_path_factory.mktemp(f"big-{backend.name}")
        name = "vbconf_selective"
        rng = np.random.default_rng(42)
        dense = rng.standard_normal((BIG_N, BIG_DIM)).astype(np.float32)
        dense /= np.linalg.norm(dense, axis=1, keepdims=True)
        sparse = _big_sparse(rng)
        connector = backend.open(workdir)
        spec_ = CollectionSpec(
            name=name, dense_dim=BIG_DIM, filterable={"tag": ScalarType.STRING, "rank": ScalarType.INT}
        )
        connector.ensure_collection(spec_)
        step = 5000
        for start in range(0, BIG_N, step):
            rows = range(start, min(BIG_N, start + step))
            docs = []
            for i in rows:
                doc_id = f"big-{i}"
                rare = doc_id in RARE
                docs.append(
                    Document(
                        id=doc_id,
                        text="",
                        metadata={
                            "tag": RARE_TAG if rare else "common",
                            "rank": 5 + RARE.index(doc_id) if rare else 100 + i,
                        },
                    )
                )
            batch = IndexBatch(
                documents=docs, dense=dense[start : start + step], sparse={"sparse": sparse[start : start + step]}
            )
            connector.upsert(name, batch)
        yield BigStore(connector, name, dense, sparse)
        connector.drop_collection(name)
        connector.close()

    def test_selective_queries_need_the_filter(self, backend, big_store):
        """Without the filter the rare rows are nowhere near the top: the filter does the selecting."""
        dense_q, sparse_q = _queries(big_store)
        rare = [int(doc_id.split("-")[1]) for doc_id in RARE]
        dense_scores = big_store.dense.astype(np.float64) @ dense_q.astype(np.float64)
        assert (dense_scores > dense_scores[rare].max()).sum() >= 1000
        sparse_scores = backend.sparse_scores(big_store.sparse, sparse_q)
        assert all(sparse_scores[i] > 0 for i in rare), "rare rows must match the sparse query"
        assert (sparse_scores > sparse_scores[rare].max()).sum() >= 100, "too few common rows outscore the rare ones"
        connector, name = big_store.connector, big_store.name
        assert not {h.id for h in connector.search_dense(name, dense_q, 10)} & set(RARE)
        assert not {h.id for h in connector.search_sparse(name, sparse_q, 10)} & set(RARE)

    @pytest.mark.parametrize("case", sorted(SELECTIVE))
    def test_selective_filter_recall_is_one(self, backend, big_store, case):
        """Pinned engine behaviour: 2 matching rows of 20,000 are both returned by every search kind.

        Fails on an engine upgrade that drops filtered hits (e.g. ANN pre/post-filter regressions)."""
        connector, name = big_store.connector, big_store.name
        node = SELECTIVE[case]
        dense_q, sparse_q = _queries(big_store)
        assert connector.count(name, node) == 2
        assert {h.id for h in connector.search_dense(name, dense_q, 10, filter=node)} == set(RARE)
        assert {h.id for h in connector.search_sparse(name, sparse_q, 10, filter=node)} == set(RARE)
        if backend.hybrid_native(connector):
            hybrid = connector.search_hybrid_native(name, dense_q, {"sparse": sparse_q}, 10, filter=node, window=20)
            assert {h.id for h in hybrid} == set(RARE)
