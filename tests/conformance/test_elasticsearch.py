"""The shipped conformance suite on Elasticsearch: the noida-db EMULATOR (started for the session;
its tests skip when noida-db is not installed), or a real server when ``VECBRIDGE_TEST_ES_URL`` is
set (marked ``integration``); sync, and async through ``BlockingConnector``.
``VECBRIDGE_CONFORMANCE_ES=0`` turns these off; ``VECBRIDGE_CONFORMANCE_ASYNC=0`` the async one."""

from __future__ import annotations

import os

import pytest

from tests.conformance import backends
from vecbridge.testing import Backend, ConnectorConformance
from vecbridge.testing.data import make_corpus, spec
from vecbridge.testing.es_emulator import external_es_url

if os.environ.get("VECBRIDGE_CONFORMANCE_ES", "1") == "0":
    pytest.skip("VECBRIDGE_CONFORMANCE_ES=0", allow_module_level=True)

NAME = "elasticsearch" if external_es_url() else "es-emulator"
pytestmark = [pytest.mark.integration] if external_es_url() else []


class TestElasticsearch(ConnectorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls, es_url, es_auth) -> Backend:
        return backends.elasticsearch(NAME, es_url, es_auth)

    def test_iterates_without_point_in_time(self, connector, collection_name, monkeypatch):
        """A server that refuses point in time: search_after on the id keyword alone, each document once."""
        from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
        from elasticsearch import BadRequestError

        refused = []

        def refuse(**kwargs):
            refused.append(kwargs)
            meta = ApiResponseMeta(
                status=400,
                http_version="1.1",
                headers=HttpHeaders(),
                duration=0.0,
                node=NodeConfig("http", "127.0.0.1", 9200),
            )
            raise BadRequestError(
                "point in time not supported", meta, {"error": {"type": "illegal_argument_exception"}}
            )

        corpus = make_corpus(530, 32, seed=10)
        connector.ensure_collection(spec(collection_name, 32))
        connector.upsert(collection_name, corpus.batch())
        monkeypatch.setattr(connector.client, "open_point_in_time", refuse)
        ids = [d.id for b in connector.iterate(collection_name, batch_size=100) for d in b]
        assert len(ids) == len(set(ids)) == 530 and refused


@backends.skip_unless_async
class TestAsyncElasticsearch(ConnectorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls, es_url, es_auth) -> Backend:
        return backends.async_elasticsearch(
            backends.elasticsearch(NAME, es_url, es_auth), f"async-{NAME}", es_url, es_auth
        )
