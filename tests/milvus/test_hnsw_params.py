"""HNSW build and search parameters (issue 12): pure request/schema builders, as a Milvus server gets
them (Milvus Lite 2.5.1 builds no HNSW: vecbridge/testing/conformance/index_store.py checks the options are
harmless on exact indexes)."""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge.connectors.elasticsearch.queries import knn_clause
from vecbridge.connectors.milvus import requests as rq
from vecbridge.connectors.milvus.schema import build_index_params, check_matches, index_type, spec_from_description
from vecbridge.schemas import CollectionMismatchError, CollectionSpec, ConfigurationError, DenseIndex


def _spec(**kw):
    return CollectionSpec(name="h", dense_dim=4, dense_index=DenseIndex.HNSW, **kw)


def test_spec_accepts_hnsw_params_only_for_hnsw():
    assert _spec(hnsw_m=32, hnsw_ef_construction=400).hnsw_m == 32
    with pytest.raises(ValueError, match="need dense_index HNSW"):
        CollectionSpec(name="h", dense_dim=4, hnsw_m=32)
    with pytest.raises(ValueError, match="hnsw_m"):
        _spec(hnsw_m=1)


class _Params:
    def __init__(self):
        self.added = []

    def add_index(self, field, **kw):
        self.added.append((field, kw))


class _Client:
    def prepare_index_params(self):
        return _Params()


def test_server_builds_hnsw_with_the_spec_params():
    params = build_index_params(_Client(), _spec(hnsw_m=32, hnsw_ef_construction=400), local=False)
    field, kw = params.added[0]
    assert (field, kw["index_type"], kw["params"]) == ("dense", "HNSW", {"M": 32, "efConstruction": 400})
    default = build_index_params(_Client(), _spec(), local=False).added[0][1]["params"]
    assert default == {"M": 16, "efConstruction": 200}
    sq = CollectionSpec(name="h", dense_dim=4, dense_index=DenseIndex.INT8_HNSW, hnsw_m=8)
    assert build_index_params(_Client(), sq, local=False).added[0][1]["params"] == {
        "M": 8,
        "efConstruction": 200,
        "sq_type": "SQ8",
    }
    assert index_type(_spec(hnsw_m=32), local=True) == "AUTOINDEX"  # Lite: no HNSW


def test_reopening_with_other_hnsw_params_names_them():
    description = {
        "fields": [{"name": "id", "type": 21, "params": {}}, {"name": "dense", "type": 101, "params": {"dim": 4}}]
    }
    dense = {"index_type": "HNSW", "metric_type": "IP", "M": "32", "efConstruction": "400"}
    actual = spec_from_description("h", description, dense)
    actual.update(text_max_length=65535)
    check_matches(_spec(hnsw_m=32, hnsw_ef_construction=400, sparse_fields=()), actual, local=False)
    with pytest.raises(CollectionMismatchError, match="hnsw_m / hnsw_ef_construction"):
        check_matches(_spec(hnsw_m=16, sparse_fields=()), actual, local=False)


def test_search_ef_reaches_the_request():
    spec = _spec()
    query = np.ones(4, np.float32)
    assert "params" not in rq.dense_search(spec, query, 10, None)["search_params"]
    assert rq.dense_search(spec, query, 10, None, ef=64)["search_params"]["params"] == {"ef": 64}
    assert rq.dense_search(spec, query, 10, None, ef=4)["search_params"]["params"] == {"ef": 10}  # ef >= k
    with pytest.raises(ConfigurationError, match="ef"):
        rq.dense_search(spec, query, 10, None, ef=0)
    assert knn_clause(query, 10, 10, None, ef=500)["num_candidates"] == 500
    assert knn_clause(query, 10, 10, None, ef=3)["num_candidates"] == 10
    assert knn_clause(query, 10, 10, None)["num_candidates"] == 100
