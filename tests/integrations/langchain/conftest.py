"""Fixtures of the LangChain adapter tests: ``lc_backend`` (Milvus Lite file, Elasticsearch emulator),
one connector per backend and module, a fresh collection per test, and the asyncio marker that the
standard suite's ``async def`` tests need (pytest-asyncio runs in strict mode in this project)."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

if importlib.util.find_spec("langchain_core") is None:  # the test modules skip themselves too
    collect_ignore_glob = ["test_*.py"]


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_pycollect_makeitem(collector, name, obj):  # type: ignore[no-untyped-def]
    """Mark the coroutine tests collected here with ``asyncio`` so pytest-asyncio (strict mode) runs
    them; runs inside pytest-asyncio's own wrapper, which then turns them into asyncio items.
    langchain-tests' suites rely on ``asyncio_mode = "auto"``, which this project does not set."""
    outcome = yield
    if not inspect.iscoroutinefunction(obj):
        return
    items = outcome.get_result()
    for item in items if isinstance(items, list) else [items]:
        if isinstance(item, pytest.Function) and item.get_closest_marker("asyncio") is None:
            item.add_marker(pytest.mark.asyncio)


def _open_milvus_lite(workdir: Path):  # type: ignore[no-untyped-def]
    from vecbridge.connectors.milvus import MilvusConnector

    return MilvusConnector(str(workdir / "milvus.db"))


def _open_es_emulator(workdir: Path):  # type: ignore[no-untyped-def]
    from vecbridge.connectors.elasticsearch import ElasticsearchConnector, IpSimilarity
    from vecbridge.testing.es_emulator import external_es_auth, external_es_url, noida_binary, shared_es_url

    if external_es_url() is None and noida_binary() is None:
        pytest.skip("noida-db (ES emulator) not installed and VECBRIDGE_TEST_ES_URL not set")
    # max_inner_product: the suite's fake embeddings are not unit-length (dot_product rejects them)
    return ElasticsearchConnector(
        url=shared_es_url(), ip_similarity=IpSimilarity.MAX_INNER_PRODUCT, **external_es_auth()
    )


OPENERS: dict[str, Callable[[Path], object]] = {"milvus-lite": _open_milvus_lite, "es-emulator": _open_es_emulator}


def open_connector(name: str, workdir: Path):  # type: ignore[no-untyped-def]
    return OPENERS[name](workdir)


@pytest.fixture(scope="module", params=sorted(OPENERS))
def lc_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def lc_connector(lc_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    connector = open_connector(lc_backend, tmp_path_factory.mktemp(f"lc-{lc_backend}"))
    yield connector
    connector.close()  # type: ignore[attr-defined]


def unique_name(request: pytest.FixtureRequest, prefix: str = "lc") -> str:
    return f"{prefix}_{hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]}"


@pytest.fixture
def collection_name(request: pytest.FixtureRequest, lc_connector: object) -> Iterator[str]:
    """A collection name unique to the test, dropped at teardown."""
    name = unique_name(request)
    yield name
    if lc_connector.has_collection(name):  # type: ignore[attr-defined]
        lc_connector.drop_collection(name)  # type: ignore[attr-defined]
