"""Filters on undeclared keys and dotted paths (JSON-path expressions on ``metadata`` plus the
``_meta_types`` field) in Milvus Lite 2.5.1 select exactly the documents ``vecbridge.schemas.matches``
accepts: keys holding ``1``, ``"1"``, ``1.0``, ``True``, lists, objects, null or nothing, paths
through objects and arrays, literal dotted keys, integers beyond 2**53, keys and values holding
quotes and backslashes. Random trees (hypothesis) mixed with a declared key."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from tests.json_filter_trees import path_filters, random_documents
from vecbridge.connectors.milvus import MilvusConnector
from vecbridge.schemas import (
    CollectionSpec,
    Condition,
    Document,
    Filter,
    FilterError,
    IndexBatch,
    Not,
    ScalarType,
    matches,
)
from vecbridge.schemas.filters import eq, is_in, ne, not_in

SPEC_KEYS = {"year": ScalarType.INT}
YEARS = [1999, 2000, 2001, None]
QUOTED = [
    Document(id="q1", text="", metadata={'say "hi"': {"back\\slash": 'it\'s "x"'}}),
    Document(id="q2", text="", metadata={'say "hi"': 1}),
    Document(id="big1", text="", metadata={"k": float(2**53)}),
    Document(id="big2", text="", metadata={"k": 2**53 + 1}),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    connector = MilvusConnector(str(tmp_path_factory.mktemp("json") / "m.db"))
    spec = CollectionSpec(name="json", dense_dim=4, sparse_fields=(), filterable=SPEC_KEYS)
    connector.ensure_collection(spec)
    docs = random_documents(160, seed=7)
    docs = [
        d.model_copy(update={"metadata": {**d.metadata, "year": YEARS[i % 4]}}) for i, d in enumerate(docs)
    ] + QUOTED
    dense = np.random.default_rng(0).standard_normal((len(docs), 4)).astype(np.float32)
    connector.upsert("json", IndexBatch(documents=docs, dense=dense))
    yield connector, spec, docs, dense
    connector.close()


def _check(store, node: Filter, search: bool = False) -> None:
    connector, spec, docs, dense = store
    expected = {d.id for d in docs if matches(node, d.metadata, spec)}
    assert connector.count(spec.name, node) == len(expected), node
    if search:
        assert {h.id for h in connector.search_dense(spec.name, dense[0], len(docs), filter=node)} == expected, node


@pytest.mark.parametrize(
    "node",
    [
        eq("k", 1),
        eq("k", "1"),
        eq("k", True),
        eq("k", 1.0),
        ne("k", 1),
        eq("k", None),
        ne("k", None),
        is_in("k", [1, "1", None, True, 2.5]),
        not_in("k", [1, "1", None]),
        eq("a.b", 1),
        eq("a.b.c", "a"),
        eq("n.0", 1),
        ne("n.0", 1),
        ne("n.0", None),
        eq("k", 2**53 + 1),
        eq("k", 2**53),
        eq("k", float(2**53)),
        eq('say "hi".back\\slash', 'it\'s "x"'),
        eq('say "hi"', 1),
        ne("k", 2**53 + 1),
        Condition(key="k", op="<", value=2**53 + 1),
        Condition(key="k", op=">=", value=2**53 + 1),
        Not(operand=Condition(key="k", op=">", value=2**53 + 1)),
        Condition(key="k", op=">", value=-1e300),
    ],
    ids=repr,
)
def test_examples_agree_with_oracle(store, node):
    _check(store, node, search=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(node=path_filters(declared={"year": YEARS}))
def test_random_trees_agree_with_oracle(store, node):
    _check(store, node)


@pytest.mark.parametrize(
    "node, message",
    [
        (eq("x/y", 1), "'/'"),
        (eq("k", "line\nbreak"), "cannot hold"),
    ],
)
def test_unaddressable_is_a_filter_error(store, node, message):
    connector, spec, _, _ = store
    with pytest.raises(FilterError, match=message):
        connector.count(spec.name, node)


def test_collection_without_meta_types_stays_usable(tmp_path):
    """A collection created before ``_meta_types`` takes writes and filters that read ``metadata``
    alone; a filter that needs the kinds is a FilterError saying to re-create, never a wrong count."""
    from tests.milvus.test_connector import _batch, _create_pre_flag_collection

    with MilvusConnector(str(tmp_path / "old.db")) as connector:
        _create_pre_flag_collection(connector, year=False)
        connector.ensure_collection(CollectionSpec(name="c", dense_dim=4))
        batch = _batch("a", "b")
        docs = [d.model_copy(update={"metadata": {"k": i}}) for i, d in enumerate(batch.documents)]
        connector.upsert("c", IndexBatch(documents=docs, dense=batch.dense, sparse=batch.sparse))
        assert connector.count("c", eq("k", 1)) == 1 and connector.count("c", ne("k", 1)) == 1
        with pytest.raises(FilterError, match="created before vecbridge kept '_meta_types'.*re-create"):
            connector.count("c", eq("k", None))
