"""Fixtures of the ingestion tests: Milvus Lite run as a real server process (tests/milvus_server.py)."""

from tests.milvus_server import milvus_server, milvus_server_factory  # noqa: F401
