"""The connector conformance suite as pytest mixin classes (needs pytest).

Each mixin is one feature's tests; ``ConnectorConformance`` is all of them. A test class subclasses
the mixins it wants and supplies a ``backend`` fixture (class scope or wider) returning a
``vecbridge.testing.Backend``; the mixins build ``connector``, ``connector_factory`` and
``collection_name`` from it. Every test uses its own collection and drops it afterwards.

    class TestMyStore(ConnectorConformance):
        @pytest.fixture(scope="class")
        @classmethod
        def backend(cls):
            return Backend(name="my-store", open=lambda workdir: MyConnector(workdir / "store"))
"""

from vecbridge.testing.conformance.base import ConformanceBase
from vecbridge.testing.conformance.collection_ops import CollectionTests
from vecbridge.testing.conformance.content import ContentTests
from vecbridge.testing.conformance.filters import FilterTests
from vecbridge.testing.conformance.index_store import IndexStoreTests
from vecbridge.testing.conformance.no_dense import NoDenseTests
from vecbridge.testing.conformance.search import SearchTests
from vecbridge.testing.conformance.state import StateTests
from vecbridge.testing.conformance.store_features import StoreFeatureTests
from vecbridge.testing.conformance.tenants import TenantTests
from vecbridge.testing.conformance.text import TextSearchTests
from vecbridge.testing.conformance.undeclared_filters import UndeclaredFilterTests
from vecbridge.testing.conformance.write_accounting import WriteAccountingTests

__all__ = [
    "CollectionTests",
    "ConformanceBase",
    "ConnectorConformance",
    "ContentTests",
    "FilterTests",
    "IndexStoreTests",
    "NoDenseTests",
    "SearchTests",
    "StateTests",
    "StoreFeatureTests",
    "TenantTests",
    "TextSearchTests",
    "UndeclaredFilterTests",
    "WriteAccountingTests",
]


class ConnectorConformance(
    CollectionTests,
    SearchTests,
    FilterTests,
    UndeclaredFilterTests,
    NoDenseTests,
    WriteAccountingTests,
    StateTests,
    StoreFeatureTests,
    ContentTests,
    IndexStoreTests,
    TenantTests,
    TextSearchTests,
):
    """The whole ``Connector`` contract (``vecbridge.connectors.base.Connector``): subclass it and
    supply a ``backend`` fixture. Async connectors run it through ``vecbridge.connectors.BlockingConnector``."""
