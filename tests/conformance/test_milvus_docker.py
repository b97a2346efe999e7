"""The shipped conformance suite on a real Milvus server from docker/ (``VECBRIDGE_TEST_MILVUS_URI``,
e.g. http://127.0.0.1:19530, and ``VECBRIDGE_TEST_MILVUS_TOKEN``); skipped when it is not set."""

from __future__ import annotations

import os

import pytest

from tests.conformance import backends
from vecbridge.testing import Backend, ConnectorConformance

URI = os.environ.get("VECBRIDGE_TEST_MILVUS_URI")
if not URI:
    pytest.skip("VECBRIDGE_TEST_MILVUS_URI is not set (docker/run-integration.sh)", allow_module_level=True)

pytestmark = pytest.mark.integration


class TestMilvusDocker(ConnectorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls) -> Backend:
        return backends.milvus(
            "milvus-docker", lambda workdir: str(URI), token=os.environ.get("VECBRIDGE_TEST_MILVUS_TOKEN")
        )
