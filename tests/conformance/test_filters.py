"""Conformance: filters agree with the oracle ``schemas.matches``, incl. nasty strings and a
selective filter (2 of 20,000 rows) that must reach recall 1.0 on dense, sparse and hybrid search.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from connectors.base import Connector
from schemas import And, CollectionSpec, Condition, Document, Filter, IndexBatch, Not, Or, ScalarType, SparseVector, matches
from schemas.filters import between, eq, is_in, ne, not_in
from tests.conformance.data import NASTY, make_corpus, spec

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
    "and_or": And(all=[Or(any=[eq("genre", "plain"), eq("genre", "x\ty")]), Condition(key="year", op=">=", value=2000)]),
    "not": Not(operand=And(all=[eq("flag", True), Condition(key="price", op="<=", value=50.0)])),
    "not_not_or": Not(operand=Not(operand=Or(any=[is_in("genre", NASTY[:3]), eq("year", 1991)]))),
    "not_in_list": Not(operand=is_in("year", list(range(1990, 2010)))),
    **{f"nasty_{i}": eq("genre", value) for i, value in enumerate(NASTY)},
    "nasty_in": is_in("genre", NASTY[:5]),
}


@pytest.fixture(scope="module")
def loaded(backend, tmp_path_factory: pytest.TempPathFactory):
    """One 300-row collection shared by the (read-only) filter cases of a backend."""
    connector, name = backend.open(tmp_path_factory.mktemp(f"filters-{backend.name}")), "vbconf_filters"
    corpus = make_corpus(300, 16, seed=4)
    connector.ensure_collection(spec(name, 16))
    connector.upsert(name, corpus.batch())
    yield connector, name, corpus
    connector.drop_collection(name)
    connector.close()


@pytest.mark.parametrize("case", sorted(CASES))
def test_filter_matches_oracle(loaded, case):
    connector, name, corpus = loaded
    node = CASES[case]
    expected = {d.id for d in corpus.documents if matches(node, d.metadata)}
    assert connector.count(name, node) == len(expected)
    hits = connector.search_dense(name, corpus.dense[0], 300, filter=node)
    assert {h.id for h in hits} == expected
    assert all(matches(node, h.metadata) for h in hits)


def test_nasty_values_round_trip_through_get(loaded):
    connector, name, corpus = loaded
    got = connector.get(name, [d.id for d in corpus.documents[: len(NASTY)]])
    assert [d.metadata["genre"] for d in got] == NASTY


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
        rows.append(SparseVector.model_construct(indices=idx.astype(np.uint32), values=values[i, first].astype(np.float32)))
    return rows


@pytest.fixture(scope="session")
def big_store(backend, tmp_path_factory: pytest.TempPathFactory):
    """20,000 rows with random vectors; only ``RARE`` carry ``RARE_TAG`` and ``rank`` in [5, 6]."""
    workdir: Path = tmp_path_factory.mktemp(f"big-{backend.name}")
    name = "vbconf_selective"
    rng = np.random.default_rng(42)
    dense = rng.standard_normal((BIG_N, BIG_DIM)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    sparse = _big_sparse(rng)
    connector = backend.open(workdir)
    spec_ = CollectionSpec(name=name, dense_dim=BIG_DIM, filterable={"tag": ScalarType.STRING, "rank": ScalarType.INT})
    connector.ensure_collection(spec_)
    step = 5000
    for start in range(0, BIG_N, step):
        rows = range(start, min(BIG_N, start + step))
        docs = []
        for i in rows:
            doc_id = f"big-{i}"
            rare = doc_id in RARE
            docs.append(Document(id=doc_id, text="", metadata={"tag": RARE_TAG if rare else "common",
                                                               "rank": 5 + RARE.index(doc_id) if rare else 100 + i}))
        batch = IndexBatch(documents=docs, dense=dense[start : start + step], sparse={"sparse": sparse[start : start + step]})
        connector.upsert(name, batch)
    yield BigStore(connector, name, dense, sparse)
    connector.drop_collection(name)
    connector.close()


def _queries(store: BigStore) -> tuple[np.ndarray, SparseVector]:
    """Dense: the opposite of the first rare row (its worst match). Sparse: the union of the rare
    rows' tokens (<= 16 terms, weight 1): realistic size, and the rare rows match it but score low."""
    rare_rows = [store.sparse[int(doc_id.split("-")[1])] for doc_id in RARE]
    tokens = np.unique(np.concatenate([v.indices for v in rare_rows]))
    return -store.dense[int(RARE[0].split("-")[1])], SparseVector(indices=tokens, values=np.ones(tokens.size))


def test_selective_queries_need_the_filter(backend, big_store):
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


SELECTIVE: dict[str, Filter] = {
    "tag_eq": eq("tag", RARE_TAG),
    "rank_range": between("rank", 5, 6),
    "tag_in": is_in("tag", [RARE_TAG, "absent"]),
    "not_common": Not(operand=eq("tag", "common")),
}


@pytest.mark.parametrize("case", sorted(SELECTIVE))
def test_selective_filter_recall_is_one(backend, big_store, case):
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
