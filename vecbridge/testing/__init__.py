"""vecbridge's test kit, shipped so that other connectors can reuse it.

- ``ConnectorConformance`` and the per-feature mixins (``vecbridge.testing.conformance``, needs
  pytest): the ``Connector`` contract as tests. Subclass, supply a ``backend`` fixture returning a
  ``Backend``, and the whole suite runs on your store (see docs/testing.md).
- ``vecbridge.testing.fixtures`` (needs pytest): fixtures that start Milvus Lite as a server process
  and the noida-db Elasticsearch emulator on 127.0.0.1.
- Without pytest: ``MilvusLiteServer``, ``EmulatorProcess`` / ``noida_elasticsearch``, the
  deterministic corpora and ground truth of ``vecbridge.testing.data``, the encoder stand-ins
  ``BagOfWordsEncoder`` / ``PrecomputedEncoder`` and ``vecbridge.testing.checkpoints`` (random-weight
  BGE-M3 / reranker checkpoints built offline).

Names resolve lazily: importing this package imports neither pytest nor a store client. Nothing
else in vecbridge imports it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vecbridge.testing.backend import Backend
    from vecbridge.testing.conformance import (
        CollectionTests,
        ConformanceBase,
        ConnectorConformance,
        ContentTests,
        FilterTests,
        IndexStoreTests,
        NoDenseTests,
        SearchTests,
        StateTests,
        StoreFeatureTests,
        TenantTests,
        TextSearchTests,
        WriteAccountingTests,
    )
    from vecbridge.testing.encoders import BagOfWordsEncoder, PrecomputedEncoder
    from vecbridge.testing.es_emulator import EmulatorProcess, noida_elasticsearch, shared_es_url
    from vecbridge.testing.milvus_server import MilvusLiteServer, shared_milvus_uri

_LAZY: dict[str, str] = {
    "Backend": "vecbridge.testing.backend",
    **dict.fromkeys(
        [
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
            "WriteAccountingTests",
        ],
        "vecbridge.testing.conformance",
    ),
    **dict.fromkeys(["BagOfWordsEncoder", "PrecomputedEncoder"], "vecbridge.testing.encoders"),
    **dict.fromkeys(["EmulatorProcess", "noida_elasticsearch", "shared_es_url"], "vecbridge.testing.es_emulator"),
    **dict.fromkeys(["MilvusLiteServer", "shared_milvus_uri"], "vecbridge.testing.milvus_server"),
}

__all__ = [
    "Backend",
    "BagOfWordsEncoder",
    "CollectionTests",
    "ConformanceBase",
    "ConnectorConformance",
    "ContentTests",
    "EmulatorProcess",
    "FilterTests",
    "IndexStoreTests",
    "MilvusLiteServer",
    "NoDenseTests",
    "PrecomputedEncoder",
    "SearchTests",
    "StateTests",
    "StoreFeatureTests",
    "TenantTests",
    "TextSearchTests",
    "WriteAccountingTests",
    "noida_elasticsearch",
    "shared_es_url",
    "shared_milvus_uri",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vecbridge.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
