"""Fixtures: an Elasticsearch URL — by default the noida-db EMULATOR started here (not real
Elasticsearch); ``VECBRIDGE_TEST_ES_URL`` points the same tests at a real server instead."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from vecbridge.connectors.elasticsearch import ElasticsearchConnector, NativeHybrid
from vecbridge.testing.es_emulator import external_es_auth, external_es_url, noida_binary, noida_elasticsearch


@pytest.fixture(scope="session")
def es_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real ES (env) or of the noida-db emulator started for this session."""
    url = external_es_url()
    if url:
        yield url
        return
    if noida_binary() is None:
        pytest.skip("noida-db emulator not installed and VECBRIDGE_TEST_ES_URL not set")
    with noida_elasticsearch(tmp_path_factory.mktemp("noida")) as url:
        yield url


@pytest.fixture(scope="session")
def on_emulator() -> bool:
    return external_es_url() is None


@pytest.fixture
def connector(es_url: str) -> Iterator[ElasticsearchConnector]:
    conn = ElasticsearchConnector(url=es_url, **external_es_auth())
    yield conn
    conn.close()


@pytest.fixture
def forced_native(es_url: str) -> Iterator[ElasticsearchConnector]:
    """A connector that skips the licence check (the emulator's licence API is unreadable)."""
    conn = ElasticsearchConnector(url=es_url, native_hybrid=NativeHybrid.FORCE, **external_es_auth())
    yield conn
    conn.close()


@pytest.fixture
def index_name(request: pytest.FixtureRequest, connector: ElasticsearchConnector) -> Iterator[str]:
    """A fresh index name per test, dropped after."""
    name = f"t_{request.node.name[:40].lower()}_{uuid.uuid4().hex[:6]}"
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    yield name
    connector.drop_collection(name)
