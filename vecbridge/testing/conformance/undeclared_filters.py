"""Conformance, JSON path: the filter cases of ``FilterTests`` on keys that are NOT declared
filterable (read from the stored metadata: Milvus JSON paths, Elasticsearch ``meta_terms``), on
every backend, against the same oracle ``vecbridge.schemas.matches``: the named cases, generated
trees over documents lacking random keys, the same keys as dotted paths into nested metadata, and
the selective filter (2 of 20,000 rows) reaching recall 1.0 on dense and sparse search.

Only ``when`` stays declared (``datetime``): date/time comparisons need a declared key.
``UndeclaredFilterTests`` is part of ``ConnectorConformance``.
"""

from __future__ import annotations

import numpy as np
import pytest

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
from vecbridge.schemas.filters import between, eq, is_in
from vecbridge.testing.conformance.filters import (
    BIG_N,
    CASES,
    RARE,
    RARE_TAG,
    _big_sparse,
    _sparse_corpus,
    random_filter,
)
from vecbridge.testing.data import make_corpus

DECLARED = {"when": ScalarType.DATETIME}


def undeclared_spec(name: str, dim: int, **kw) -> CollectionSpec:
    return CollectionSpec(name=name, dense_dim=dim, filterable=dict(DECLARED), **kw)


SPEC = undeclared_spec("oracle", 16)


def nest(node: Filter) -> Filter:
    """The same tree with every key ``k`` but ``when`` read as the path ``deep.k``."""
    if isinstance(node, And):
        return And(all=[nest(c) for c in node.all])
    if isinstance(node, Or):
        return Or(any=[nest(c) for c in node.any])
    if isinstance(node, Not):
        return Not(operand=nest(node.operand))
    return node if node.key in DECLARED else Condition(key=f"deep.{node.key}", op=node.op, value=node.value)


SELECTIVE: dict[str, Filter] = {
    "tag_eq": eq("tag", RARE_TAG),
    "rank_range": between("meta.rank", 5, 6),
    "tag_in": is_in("tag", [RARE_TAG, "absent"]),
    "not_common": Not(operand=eq("tag", "common")),
}


class UndeclaredFilterTests:
    """Filters on undeclared keys and dotted paths agree with the oracle; selective ones reach recall 1.0."""

    @pytest.fixture(scope="class")
    @classmethod
    def undeclared_loaded(cls, backend, tmp_path_factory: pytest.TempPathFactory):
        connector, name = backend.open(tmp_path_factory.mktemp(f"undeclared-{backend.name}")), "vbconf_undeclared"
        corpus = make_corpus(300, 16, seed=4)
        connector.ensure_collection(undeclared_spec(name, 16))
        connector.upsert(name, corpus.batch())
        yield connector, name, corpus
        connector.drop_collection(name)
        connector.close()

    @pytest.mark.parametrize("case", sorted(CASES))
    def test_filter_matches_oracle_on_undeclared_keys(self, undeclared_loaded, case):
        connector, name, corpus = undeclared_loaded
        node = CASES[case]
        expected = {d.id for d in corpus.documents if matches(node, d.metadata, SPEC)}
        assert connector.count(name, node) == len(expected)
        hits = connector.search_dense(name, corpus.dense[0], 300, filter=node)
        assert {h.id for h in hits} == expected

    @pytest.fixture(scope="class")
    @classmethod
    def undeclared_sparse_loaded(cls, backend, tmp_path_factory: pytest.TempPathFactory):
        """Documents lacking random keys; each also holds its undeclared keys under ``deep``."""
        connector = backend.open(tmp_path_factory.mktemp(f"undeclared-sparse-{backend.name}"))
        name = "vbconf_undeclared_sp"
        docs, dense = _sparse_corpus(80, seed=11)
        docs = [
            Document(
                id=d.id,
                text=d.text,
                metadata={**d.metadata, "deep": {k: v for k, v in d.metadata.items() if k not in DECLARED}},
            )
            for d in docs
        ]
        connector.ensure_collection(undeclared_spec(name, 8, sparse_fields=()))
        connector.upsert(name, IndexBatch(documents=docs, dense=dense))
        yield connector, name, docs, dense
        connector.drop_collection(name)
        connector.close()

    @pytest.mark.parametrize("nested", [False, True], ids=["top-level", "dotted-path"])
    @pytest.mark.parametrize("seed", range(3))
    def test_generated_undeclared_filters_agree_with_oracle(self, undeclared_sparse_loaded, seed, nested):
        connector, name, docs, dense = undeclared_sparse_loaded
        rng = np.random.default_rng(1000 + seed)
        for _ in range(40):
            node = random_filter(rng)
            node = nest(node) if nested else node
            expected = {d.id for d in docs if matches(node, d.metadata, SPEC)}
            assert connector.count(name, node) == len(expected), node
            if seed == 0:
                assert {h.id for h in connector.search_dense(name, dense[0], 80, filter=node)} == expected, node

    @pytest.fixture(scope="class")
    @classmethod
    def big_undeclared(cls, backend, tmp_path_factory: pytest.TempPathFactory):
        """20,000 rows; only ``RARE`` carry ``RARE_TAG`` and ``meta.rank`` in [5, 6]; nothing declared."""
        name = "vbconf_selective_json"
        rng = np.random.default_rng(42)
        dense = rng.standard_normal((BIG_N, 64)).astype(np.float32)
        dense /= np.linalg.norm(dense, axis=1, keepdims=True)
        sparse = _big_sparse(rng)
        connector = backend.open(tmp_path_factory.mktemp(f"big-json-{backend.name}"))
        connector.ensure_collection(CollectionSpec(name=name, dense_dim=64))
        step = 5000
        for start in range(0, BIG_N, step):
            docs = []
            for i in range(start, min(BIG_N, start + step)):
                rare = f"big-{i}" in RARE
                rank = 5 + RARE.index(f"big-{i}") if rare else 100 + i
                docs.append(
                    Document(
                        id=f"big-{i}", text="", metadata={"tag": RARE_TAG if rare else "common", "meta": {"rank": rank}}
                    )
                )
            connector.upsert(
                name,
                IndexBatch(
                    documents=docs, dense=dense[start : start + step], sparse={"sparse": sparse[start : start + step]}
                ),
            )
        yield connector, name, dense, sparse
        connector.drop_collection(name)
        connector.close()

    @pytest.mark.parametrize("case", sorted(SELECTIVE))
    def test_selective_undeclared_filter_recall_is_one(self, big_undeclared, case):
        connector, name, dense, sparse = big_undeclared
        node = SELECTIVE[case]
        rows = [int(doc_id.split("-")[1]) for doc_id in RARE]
        dense_q = -dense[rows[0]]
        tokens = np.unique(np.concatenate([sparse[r].indices for r in rows]))
        sparse_q = SparseVector(indices=tokens, values=np.ones(tokens.size))
        assert connector.count(name, node) == 2
        assert {h.id for h in connector.search_dense(name, dense_q, 10, filter=node)} == set(RARE)
        assert {h.id for h in connector.search_sparse(name, sparse_q, 10, filter=node)} == set(RARE)
