"""The shipped suite reused as a third party would: one test class and one fixture run the whole
``ConnectorConformance`` on a connector that vecbridge does not know (``memory_connector.py``)."""

from __future__ import annotations

import pytest

from tests.conformance.memory_connector import RESERVED, MemoryConnector
from vecbridge.testing import Backend, ConnectorConformance


class TestMemoryConnector(ConnectorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls) -> Backend:
        return Backend(
            name="memory",
            open=lambda workdir: MemoryConnector(str(workdir)),
            supports_hybrid_native=False,
            state_records=lambda connector: connector.store.records,
            reserved_state_name=RESERVED,
        )
