"""vecbridge: encoders + vector stores behind one hybrid-search API.

Everything a user needs is importable from here, lazily (PEP 562): ``import vecbridge`` loads none of
torch, transformers, pymilvus, elasticsearch or onnxruntime; a name's module is imported the first
time the name is used.

>>> from vecbridge import HybridIndex, MilvusConnector, Document, load_encoder
>>> from vecbridge import AsyncHybridIndex  # the same API for asyncio

``vecbridge.ingest`` is the ingestion function: ``from vecbridge import ingest; ingest(index, "docs.jsonl")``.
Its package's modules import by their full names (``from vecbridge.ingest.report import IngestReport``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and IDEs see (``X as X``: a re-export); at run time __getattr__ resolves them
    from vecbridge.async_index import (
        AsyncHybridIndex as AsyncHybridIndex,
    )
    from vecbridge.connectors import (
        AsyncConnector as AsyncConnector,
        BlockingConnector as BlockingConnector,
        Connector as Connector,
        ThreadedConnector as ThreadedConnector,
    )
    from vecbridge.connectors.elasticsearch import (
        AsyncElasticsearchConnector as AsyncElasticsearchConnector,
        ElasticsearchConfig as ElasticsearchConfig,
        ElasticsearchConnector as ElasticsearchConnector,
    )
    from vecbridge.connectors.milvus import (
        AsyncMilvusConnector as AsyncMilvusConnector,
        MilvusConnector as MilvusConnector,
    )
    from vecbridge.distributed import (
        RayOptions as RayOptions,
        ingest_ray as ingest_ray,
    )
    from vecbridge.encoders import (
        BGEM3Encoder as BGEM3Encoder,
        BGEM3Rescorer as BGEM3Rescorer,
        BM25Encoder as BM25Encoder,
        CrossEncoderReranker as CrossEncoderReranker,
        DenseEncoder as DenseEncoder,
        DenseOnnxEncoder as DenseOnnxEncoder,
        Encoder as Encoder,
        LiveBM25Encoder as LiveBM25Encoder,
        NotFittedError as NotFittedError,
        OutputKind as OutputKind,
        Reranker as Reranker,
        SpladeEncoder as SpladeEncoder,
        SpladeOnnxEncoder as SpladeOnnxEncoder,
        load_bgem3 as load_bgem3,
        load_encoder as load_encoder,
        load_reranker as load_reranker,
    )
    from vecbridge.encoders.bgem3_onnx import (
        BGEM3OnnxEncoder as BGEM3OnnxEncoder,
    )
    from vecbridge.fusion import (
        linear as linear,
        rrf as rrf,
    )
    from vecbridge.index import (
        HybridIndex as HybridIndex,
        Retriever as Retriever,
        RetrieverKind as RetrieverKind,
    )
    from vecbridge.ingest import (
        IngestError as IngestError,
        IngestInterrupted as IngestInterrupted,
        IngestReport as IngestReport,
        InputError as InputError,
        OnError as OnError,
        ingest as ingest,
        read_jsonl as read_jsonl,
    )
    from vecbridge.schemas import (
        And as And,
        CollectionSpec as CollectionSpec,
        Condition as Condition,
        DenseIndex as DenseIndex,
        Document as Document,
        Filter as Filter,
        FilterOp as FilterOp,
        FusionMethod as FusionMethod,
        FusionParams as FusionParams,
        Hit as Hit,
        Metric as Metric,
        Not as Not,
        Or as Or,
        ScalarType as ScalarType,
        SearchMode as SearchMode,
        SearchRequest as SearchRequest,
        Settings as Settings,
        SparseVector as SparseVector,
        VectorDocument as VectorDocument,
        matches as matches,
        parse_filter as parse_filter,
    )
    from vecbridge.schemas.errors import (
        CollectionMismatchError as CollectionMismatchError,
        CollectionNotFoundError as CollectionNotFoundError,
        ConfigurationError as ConfigurationError,
        ConnectorError as ConnectorError,
        FilterError as FilterError,
        ModelNotFoundError as ModelNotFoundError,
        StoreUnavailableError as StoreUnavailableError,
        UnsupportedOperationError as UnsupportedOperationError,
        VecbridgeError as VecbridgeError,
        WriteError as WriteError,
    )
    from vecbridge.schemas.filters import (
        between as between,
        eq as eq,
        is_in as is_in,
        ne as ne,
        not_in as not_in,
    )

# public name -> module that defines it
_LAZY: dict[str, str] = {
    # the index
    **dict.fromkeys(["HybridIndex", "Retriever", "RetrieverKind"], "vecbridge.index"),
    "AsyncHybridIndex": "vecbridge.async_index",
    **dict.fromkeys(["linear", "rrf"], "vecbridge.fusion"),
    # stores
    **dict.fromkeys(["Connector", "AsyncConnector", "BlockingConnector", "ThreadedConnector"], "vecbridge.connectors"),
    **dict.fromkeys(["MilvusConnector", "AsyncMilvusConnector"], "vecbridge.connectors.milvus"),
    **dict.fromkeys(
        ["ElasticsearchConnector", "AsyncElasticsearchConnector", "ElasticsearchConfig"],
        "vecbridge.connectors.elasticsearch",
    ),
    # encoders
    **dict.fromkeys(
        [
            "Encoder",
            "OutputKind",
            "load_encoder",
            "load_reranker",
            "load_bgem3",
            "DenseEncoder",
            "DenseOnnxEncoder",
            "SpladeEncoder",
            "SpladeOnnxEncoder",
            "BGEM3Encoder",
            "BM25Encoder",
            "LiveBM25Encoder",
            "NotFittedError",
            "CrossEncoderReranker",
            "Reranker",
            "BGEM3Rescorer",
        ],
        "vecbridge.encoders",
    ),
    "BGEM3OnnxEncoder": "vecbridge.encoders.bgem3_onnx",
    # models, filters, settings
    **dict.fromkeys(
        [
            "Document",
            "SparseVector",
            "Hit",
            "SearchMode",
            "SearchRequest",
            "FusionParams",
            "FusionMethod",
            "CollectionSpec",
            "ScalarType",
            "Metric",
            "DenseIndex",
            "Filter",
            "Condition",
            "And",
            "Or",
            "Not",
            "FilterOp",
            "parse_filter",
            "matches",
            "Settings",
            "VectorDocument",
        ],
        "vecbridge.schemas",
    ),
    **dict.fromkeys(["eq", "ne", "is_in", "not_in", "between"], "vecbridge.schemas.filters"),
    # errors (every class of schemas/errors.py; tests/facade/test_public_api.py checks the list is complete)
    **dict.fromkeys(
        [
            "VecbridgeError",
            "ConfigurationError",
            "ModelNotFoundError",
            "FilterError",
            "ConnectorError",
            "CollectionMismatchError",
            "CollectionNotFoundError",
            "UnsupportedOperationError",
            "WriteError",
            "StoreUnavailableError",
        ],
        "vecbridge.schemas.errors",
    ),
    # ingestion
    **dict.fromkeys(
        ["IngestReport", "IngestError", "IngestInterrupted", "InputError", "OnError", "read_jsonl"], "vecbridge.ingest"
    ),
    **dict.fromkeys(["RayOptions", "ingest_ray"], "vecbridge.distributed"),
}

# Names that other branches of issue 12 add (branch store): exported once their module defines them,
# a clear AttributeError before. Move them to _LAZY (and the TYPE_CHECKING block) once they are on main.
_PENDING: dict[str, str] = {"StoredDocument": "vecbridge.schemas", "InvalidInputError": "vecbridge.schemas.errors"}


def _public_names() -> list[str]:
    landed = [name for name, module in _PENDING.items() if hasattr(importlib.import_module(module), name)]
    return sorted([*_LAZY, "ingest", *landed])


def __getattr__(name: str) -> Any:
    if name == "__all__":  # computed on first use (imports schemas, which is cheap), then kept
        globals()["__all__"] = names = _public_names()
        return names
    module = _LAZY.get(name) or _PENDING.get(name)
    if module is None:
        raise AttributeError(f"module 'vecbridge' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(module), name)
    except AttributeError:
        raise AttributeError(
            f"module 'vecbridge' has no attribute {name!r}: this version of {module!r} does not define it yet"
        ) from None
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__getattr__("__all__")))


# ``vecbridge.ingest`` names the function, not the package of the same name. Importing a package binds
# it as an attribute of its parent, so the package is imported here, before anything else can import
# it, and the function's name bound after it. The package's __init__ imports nothing until used.
from vecbridge.ingest import ingest  # noqa: E402, F401
