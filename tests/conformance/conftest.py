"""The services the conformance classes run on, from the shipped fixtures."""

from vecbridge.testing.fixtures import es_auth, es_url, milvus_lite_server  # noqa: F401
