"""Engine round-trip: compiled expressions parse back exactly in Milvus Lite, for nasty values."""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge.connectors.milvus import MilvusConnector
from vecbridge.schemas import And, CollectionSpec, Document, IndexBatch, Not, Or, ScalarType, matches
from vecbridge.schemas.filters import eq, is_in, ne, not_in

VALUES = [
    'say "hi"',
    "back\\slash",
    "trailing\\",
    '\\"',
    '\\\\"',
    "it's",
    "'single'",
    'a" or id != "',
    '" || true || "',
    "x\ty",
    "\\n literal",
    "\\u0041",
    "ünï😀",
    "[1, 2]",
    "(",
    "",
    " ",
    "a\x01b",
    "\u2028",
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    connector = MilvusConnector(str(tmp_path_factory.mktemp("engine") / "m.db"))
    spec = CollectionSpec(name="nasty", dense_dim=2, sparse_fields=(), filterable={"s": ScalarType.STRING})
    connector.ensure_collection(spec)
    docs = [Document(id=f"id-{i}", text=v, metadata={"s": v}) for i, v in enumerate(VALUES)]
    connector.upsert("nasty", IndexBatch(documents=docs, dense=np.ones((len(docs), 2))))
    yield connector, docs
    connector.close()


@pytest.mark.parametrize("index", range(len(VALUES)))
def test_equality_round_trips(store, index):
    connector, docs = store
    assert connector.count("nasty", eq("s", VALUES[index])) == 1
    hits = connector.search_dense("nasty", np.ones(2), 50, filter=eq("s", VALUES[index]))
    assert [h.id for h in hits] == [docs[index].id]


def test_membership_and_ids_round_trip(store):
    connector, docs = store
    assert connector.count("nasty", is_in("s", VALUES)) == len(VALUES)
    assert connector.count("nasty", not_in("s", VALUES[:5])) == len(VALUES) - 5
    ids = [d.id for d in docs]
    assert [d.id for d in connector.get("nasty", ids[::-1])] == ids[::-1]


# ---- many leaves: Lite rejects more than ~50 `or` leaves, the compiler merges them -----------
@pytest.fixture(scope="module")
def numbers(tmp_path_factory):
    connector = MilvusConnector(str(tmp_path_factory.mktemp("leaves") / "n.db"))
    spec = CollectionSpec(
        name="num", dense_dim=2, sparse_fields=(), filterable={"n": ScalarType.INT, "tag": ScalarType.STRING}
    )
    connector.ensure_collection(spec)
    docs = [Document(id=f"n{i}", text="", metadata={"n": i, "tag": f"t{i % 7}"}) for i in range(2000)]
    connector.upsert("num", IndexBatch(documents=docs, dense=np.ones((len(docs), 2))))
    yield connector, docs
    connector.close()


MANY = list(range(0, 2000, 4))[:500]
LEAVES = {
    "or_of_500_eq": Or(any=[eq("n", v) for v in MANY]),
    "not_or_of_500_eq": Not(operand=Or(any=[eq("n", v) for v in MANY])),
    "and_of_500_ne": And(all=[ne("n", v) for v in MANY]),
    "mixed_keys_and_in": Or(
        any=[
            *[eq("n", v) for v in MANY[:300]],
            is_in("n", [1, 2]),
            eq("tag", "t3"),
            *[eq("tag", f"t{k}") for k in (5, 6)],
            And(all=[eq("n", 3), eq("tag", "t3")]),
        ]
    ),
}


@pytest.mark.parametrize("case", sorted(LEAVES))
def test_many_leaves_compile_and_match_the_oracle(numbers, case):
    connector, docs = numbers
    node = LEAVES[case]
    expected = {d.id for d in docs if matches(node, d.metadata)}
    assert connector.count("num", node) == len(expected)
    hits = connector.search_dense("num", np.ones(2), 2000, filter=node)
    assert {h.id for h in hits} == expected


def test_unmerged_or_is_what_lite_rejects(numbers):
    """The reason for merging: the engine itself refuses a flat `or` of 500 leaves."""
    connector, _ = numbers
    expression = " or ".join(f"n == {v}" for v in MANY)
    with pytest.raises(Exception):  # noqa: B017 - the engine's error type is not part of its API
        connector.client.query("num", filter=expression, output_fields=["count(*)"])
