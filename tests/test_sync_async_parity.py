"""Every sync/async twin takes the same arguments: the index, the connectors, the tenant views and
the framework adapters' store methods (as qdrant-client checks its generated async client against
the sync one). Compared per public method: parameter names, kinds, defaults and annotations (the
adapters: names, kinds, defaults), and the return annotation (an async one may say ``AsyncIterator``
/ ``AsyncGenerator`` where the sync one says ``Iterator`` / ``Generator``). Deliberate differences
are listed below, each with its reason."""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from typing import Any, Optional

import pytest

PAIRS = [
    ("vecbridge.index:HybridIndex", "vecbridge.async_index:AsyncHybridIndex"),
    ("vecbridge.tenants:TenantView", "vecbridge.tenants:AsyncTenantView"),
    ("vecbridge.connectors.milvus:MilvusConnector", "vecbridge.connectors.milvus:AsyncMilvusConnector"),
    (
        "vecbridge.connectors.elasticsearch:ElasticsearchConnector",
        "vecbridge.connectors.elasticsearch:AsyncElasticsearchConnector",
    ),
]

ONLY_ONE_SIDE = {
    # (class, method): why only one of the twins has it
    ("HybridIndex", "close"): "ends the index's retriever thread pool; the async index owns no pool",
    (
        "HybridIndex",
        "write_batch",
    ): "the ingest pipeline's write step; the async index hands its pipeline one (_IngestTarget)",
    (
        "HybridIndex",
        "reindex_sparse",
    ): "maintenance of a whole collection (vecbridge reindex --sparse), run on a sync index",
    ("AsyncHybridIndex", "open"): "async construction: __init__ cannot await ensure_collection",
    ("MilvusConnector", "client"): "the sync driver client; the async one is created on its event loop",
    ("MilvusConnector", "capabilities"): "probed through the sync client (AsyncMilvusClient 2.5 lacks GetVersion)",
    ("MilvusConnector", "connected"): "whether the sync client exists (the async connector asks it on close)",
    ("MilvusConnector", "collection_info"): "the spec look-up the async connector runs in a worker thread",
    ("MilvusConnector", "dense_flagged"): "sync look-up; the async connector reads its cache after awaiting _spec",
    ("MilvusConnector", "open_iterator"): "iteration steps the async connector runs in worker threads",
    ("MilvusConnector", "next_batch"): "iteration steps the async connector runs in worker threads",
    ("MilvusConnector", "close_iterator"): "iteration steps the async connector runs in worker threads",
    ("AsyncElasticsearchConnector", "sync"): "the sync connector used for schema and state",
}

DIFFERENT = {
    # (sync class, method): why the signatures differ on purpose
    ("HybridIndex", "__init__"): "concurrent/query_chunk steer the sync thread pool; executor the async one",
    ("HybridIndex", "create"): "concurrent (sync thread pool) vs executor (async thread pool)",
}

# Framework adapters: (module, class, sync name -> async name rule)
ADAPTERS = [
    ("vecbridge.integrations.langchain", "VecbridgeVectorStore", lambda name: "a" + name),
    (
        "vecbridge.integrations.llamaindex",
        "VecbridgeVectorStore",
        lambda name: {"add": "async_add"}.get(name, "a" + name),
    ),
    ("vecbridge.integrations.haystack", "VecbridgeDocumentStore", lambda name: name + "_async"),
]

ADAPTER_DIFFERENT = {
    ("langchain", "from_texts"): "langchain_core's afrom_texts passes its **kwargs (connector, uri, "
    "collection_name) on to from_texts; building a store is a sync step",
}


def load(path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def public_members(cls: type) -> dict[str, Any]:
    """Public methods and properties that ``cls`` or a vecbridge base defines (plus ``__init__``)."""
    out = {}
    for klass in cls.__mro__:
        if not klass.__module__.startswith("vecbridge."):
            continue
        for name, value in vars(klass).items():
            if (not name.startswith("_") or name == "__init__") and name not in out:
                if callable(value) or isinstance(value, (property, classmethod, staticmethod)):
                    out[name] = inspect.getattr_static(cls, name)
    return out


_ASYNC_RETURN = [
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\bAsyncGenerator\b", "Generator"),
    (r"\bAsyncTenantView\b", "TenantView"),
    (r"\bAsyncHybridIndex\b", "HybridIndex"),
    (r"\bAsyncMilvusConnector\b", "MilvusConnector"),
    (r"\bAsyncElasticsearchConnector\b", "ElasticsearchConnector"),
    (r"\bAsyncConnector\b", "Connector"),
]


def normalized(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    for pattern, plain in _ASYNC_RETURN:
        text = re.sub(pattern, plain, text)
    return text.replace("typing.", "").replace(" ", "")


def described(fn: Callable[..., Any]) -> tuple[list[tuple[str, str, str, str]], str]:
    signature = inspect.signature(fn)
    params = [(p.name, p.kind.name, repr(p.default), normalized(p.annotation)) for p in signature.parameters.values()]
    return params, normalized(signature.return_annotation)


def unwrap(member: Any) -> Optional[Callable[..., Any]]:
    if isinstance(member, property):
        return None  # properties: compared by presence only
    if isinstance(member, (classmethod, staticmethod)):
        return member.__func__
    return member


@pytest.mark.parametrize("sync_path, async_path", PAIRS, ids=[p[0].split(":")[1] for p in PAIRS])
def test_twins_have_the_same_public_methods_and_signatures(sync_path, async_path):
    sync_cls, async_cls = load(sync_path), load(async_path)
    sync, async_ = public_members(sync_cls), public_members(async_cls)
    lonely = sorted(
        {(sync_cls.__name__, n) for n in set(sync) - set(async_)}
        | {(async_cls.__name__, n) for n in set(async_) - set(sync)}
    )
    assert [pair for pair in lonely if pair not in ONLY_ONE_SIDE] == []
    ours = (sync_cls.__name__, async_cls.__name__)
    stale = [pair for pair in ONLY_ONE_SIDE if pair[0] in ours and pair not in lonely]
    assert stale == [], "listed as one-sided but both twins have it now: drop them from ONLY_ONE_SIDE"
    mismatches = []
    for name in sorted(set(sync) & set(async_)):
        fn, afn = unwrap(sync[name]), unwrap(async_[name])
        if fn is None or afn is None:
            assert (fn is None) == (afn is None), f"{name}: a property on one side only"
            continue
        if (sync_cls.__name__, name) in DIFFERENT:
            assert described(fn) != described(afn), f"{name} is listed as different but now matches: drop it"
            continue
        if described(fn) != described(afn):
            mismatches.append((name, described(fn), described(afn)))
    assert mismatches == []


@pytest.mark.parametrize("module, cls_name, twin", ADAPTERS, ids=[a[0].rsplit(".", 1)[1] for a in ADAPTERS])
def test_adapter_store_methods_match_their_async_twins(module, cls_name, twin):
    cls = getattr(pytest.importorskip(module), cls_name)
    ours = {name for klass in cls.__mro__ if klass.__module__ == module for name in vars(klass)}
    framework = module.rsplit(".", 1)[1]
    compared, mismatches = 0, []
    for name in sorted(ours):
        if name.startswith("_") or not callable(getattr(cls, name, None)):
            continue
        other = twin(name)
        if other == name or not hasattr(cls, other) or inspect.iscoroutinefunction(getattr(cls, name)):
            continue
        if name not in ours and other not in ours:
            continue  # both inherited from the framework
        if (framework, name) in ADAPTER_DIFFERENT:
            continue
        compared += 1
        # names, kinds and defaults (the framework's own annotations are written differently)
        sync_params = [p[:3] for p in described(getattr(cls, name))[0]]
        async_params = [p[:3] for p in described(getattr(cls, other))[0]]
        if sync_params != async_params:
            mismatches.append((name, other, sync_params, async_params))
    assert mismatches == []
    assert compared > 0 or framework == "haystack", f"{cls_name}: no sync/async pair compared"
