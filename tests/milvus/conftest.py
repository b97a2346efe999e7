"""Fixtures of the Milvus tests: Milvus Lite run as a real server process (vecbridge.testing.fixtures)."""

from vecbridge.testing.fixtures import (
    milvus_lite_server as milvus_server,  # noqa: F401
    milvus_lite_server_factory as milvus_server_factory,  # noqa: F401
)
