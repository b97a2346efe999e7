"""The shipped conformance suite on Milvus: a Milvus Lite file, Milvus Lite run as a gRPC server
process on 127.0.0.1 (the ``uri="http://..."`` code path), and the async connectors on both
(``AsyncMilvusConnector``; ``ThreadedConnector``, the sync connector in worker threads), each
through ``BlockingConnector``. ``VECBRIDGE_CONFORMANCE_ASYNC=0`` skips the async ones."""

from __future__ import annotations

import pytest

from tests.conformance import backends
from vecbridge.testing import Backend, ConnectorConformance


class TestMilvusLite(ConnectorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls) -> Backend:
        return backends.milvus("milvus-lite", backends.lite_file)


class TestMilvusLiteServer(ConnectorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls, milvus_lite_server) -> Backend:
        return backends.milvus("milvus-server", lambda workdir: milvus_lite_server.uri)


@backends.skip_unless_async
class TestAsyncMilvusLite(ConnectorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls) -> Backend:
        return backends.async_milvus(
            backends.milvus("milvus-lite", backends.lite_file), "async-milvus-lite", backends.lite_file
        )


@backends.skip_unless_async
class TestThreadedMilvusLite(ConnectorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls) -> Backend:
        return backends.threaded(backends.milvus("milvus-lite", backends.lite_file), "threaded-milvus-lite")


@backends.skip_unless_async
class TestAsyncMilvusLiteServer(ConnectorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls, milvus_lite_server) -> Backend:
        def uri(workdir):
            return milvus_lite_server.uri

        return backends.async_milvus(backends.milvus("milvus-server", uri), "async-milvus-server", uri)
