"""Fixtures of the Ray ingestion tests: one local Ray (2 CPUs) per module, Milvus Lite as a server."""

from collections.abc import Iterator
from typing import Any

import pytest

from vecbridge.testing.fixtures import (
    milvus_lite_server as milvus_server,  # noqa: F401
    milvus_lite_server_factory as milvus_server_factory,  # noqa: F401
)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """``ray.init(num_cpus=2)`` on this machine (loopback only), shut down after the module."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()
