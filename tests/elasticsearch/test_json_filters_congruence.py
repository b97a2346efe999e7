"""Filters on undeclared keys and dotted paths (the ``meta_terms`` field) select exactly the
documents ``vecbridge.schemas.matches`` accepts: keys holding ``1``, ``"1"``, ``1.0``, ``True``,
lists, objects, null or nothing, paths through objects and arrays, literal dotted keys, integers
beyond 2**53. Random trees (hypothesis) mixed with a declared key. Runs on the noida-db EMULATOR
unless VECBRIDGE_TEST_ES_URL names a real Elasticsearch."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from tests.json_filter_trees import path_filters, random_documents
from vecbridge.connectors.elasticsearch import ElasticsearchConnector
from vecbridge.schemas import CollectionSpec, Filter, IndexBatch, ScalarType, matches
from vecbridge.schemas.filters import eq, is_in, ne

SPEC_KEYS = {"year": ScalarType.INT}
YEARS = [1999, 2000, 2001, None]


@pytest.fixture(scope="module")
def store(es_url: str):
    from vecbridge.testing.es_emulator import external_es_auth

    connector = ElasticsearchConnector(url=es_url, **external_es_auth())
    name = f"t_json_{uuid.uuid4().hex[:8]}"
    spec = CollectionSpec(name=name, dense_dim=4, filterable=SPEC_KEYS)
    connector.ensure_collection(spec)
    docs = random_documents(160, seed=7)
    docs = [d.model_copy(update={"metadata": {**d.metadata, "year": YEARS[i % 4]}}) for i, d in enumerate(docs)]
    dense = np.random.default_rng(0).standard_normal((len(docs), 4)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    connector.upsert(name, IndexBatch(documents=docs, dense=dense))
    yield connector, spec, docs, dense
    connector.drop_collection(name)
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
        is_in("k", [1, "1", None]),
        eq("a.b", 1),
        eq("a.b.c", "a"),
        eq("n.0", 1),
        ne("n.0", None),
        eq("k", 2**53 + 1),
        eq("k", 2**53),
    ],
    ids=repr,
)
def test_examples_agree_with_oracle(store, node):
    _check(store, node, search=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(node=path_filters(declared={"year": YEARS}))
def test_random_trees_agree_with_oracle(store, node):
    _check(store, node)
