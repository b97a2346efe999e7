"""The shipped suite reused as a third party would: one test class and one fixture run the whole
``ConnectorConformance`` on a connector that vecbridge does not know (``memory_connector.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


BROKEN = """
import pytest

from tests.conformance.memory_connector import MemoryConnector
from vecbridge.testing import Backend, StoreFeatureTests


class LosesStateOnDeleteAll(MemoryConnector):
    def delete_all(self, collection):
        self.store.records.delete_collection(collection)
        return super().delete_all(collection)


class TestBroken(StoreFeatureTests):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls):
        return Backend(name="broken", open=lambda workdir: LosesStateOnDeleteAll(str(workdir)))
"""


def test_the_shipped_suite_fails_a_connector_that_breaks_the_contract(tmp_path):
    """The same mixins, run by a separate pytest on a connector whose ``delete_all`` also drops the
    collection's state: exactly that test fails, the others of the mixin pass."""
    (tmp_path / "test_broken.py").write_text(BROKEN)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout[-3000:]
    assert "FAILED test_broken.py::TestBroken::test_delete_all_keeps_collection_and_state" in result.stdout
    assert "1 failed, 5 passed" in result.stdout, result.stdout[-3000:]
