"""Behaviours only a REAL Elasticsearch 8.x shows (the noida-db emulator differs here). Marked
``integration``; run by docker/run-integration.sh, skipped unless VECBRIDGE_TEST_ES_URL is set."""

from __future__ import annotations

import os

import numpy as np
import pytest
from elasticsearch import ApiError

from tests.elasticsearch.data import make_batch, make_spec
from vecbridge.connectors.elasticsearch import ElasticsearchConnector
from vecbridge.connectors.elasticsearch.bulk import bulk_index
from vecbridge.schemas import SparseVector, UnsupportedOperationError
from vecbridge.testing.es_emulator import ES_URL_ENV, external_es_url

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not external_es_url(), reason=f"needs a real Elasticsearch: set {ES_URL_ENV} (docker/run-integration.sh)"
    ),
]
LICENCE = os.environ.get("VECBRIDGE_TEST_ES_LICENSE", "basic")


def test_real_es_rejects_non_unit_vectors_for_dot_product(connector: ElasticsearchConnector, index_name: str) -> None:
    """Why the connector checks unit length client-side: the server rejects the document."""
    connector.ensure_collection(make_spec(index_name, dim=2))
    failed = bulk_index(
        connector.client,
        index_name,
        {"a": {"id": "a", "text": "", "dense": [3.0, 4.0]}},
        chunk_size=10,
        refresh="true",
        max_attempts=1,
        initial_backoff=0,
        max_backoff=0,
    )
    assert "unit-length" in failed["a"]


def test_real_es_rejects_negative_boosts(connector: ElasticsearchConnector, index_name: str) -> None:
    """Why sparse queries never carry negative weights (the emulator accepts them)."""
    connector.ensure_collection(make_spec(index_name))
    with pytest.raises(ApiError) as info:
        connector.client.search(
            index=index_name, query={"rank_feature": {"field": "sparse.1", "linear": {}, "boost": -1.0}}
        )
    assert info.value.meta.status == 400


def test_real_es_licence_decides_native_rrf(connector: ElasticsearchConnector, index_name: str) -> None:
    """basic: UnsupportedOperationError (licence says no, or the server answers 403);
    trial/enterprise: the rrf retriever runs."""
    connector.ensure_collection(make_spec(index_name))
    connector.upsert(index_name, make_batch(50))
    sparse = {"sparse": SparseVector(indices=[1, 2, 3], values=[1.0, 0.5, 0.2])}
    dense = np.ones(16, np.float32)
    if LICENCE == "basic":
        assert connector.licence_allows_rrf() is False
        with pytest.raises(UnsupportedOperationError):
            connector.search_hybrid_native(index_name, dense, sparse, 5)
    else:
        assert connector.licence_allows_rrf() is True
        hits = connector.search_hybrid_native(index_name, dense, sparse, 5, window=20)
        assert 0 < len(hits) <= 5 and all(h.score <= 2 / 61 + 1e-9 for h in hits)
