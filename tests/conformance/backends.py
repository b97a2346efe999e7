"""vecbridge's own stores as ``vecbridge.testing.Backend``s: what the conformance suite needs to know
about each (scores, rounding, limits, where the state records are). The test classes in this folder
run the shipped suite on them, one class per backend."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest

from vecbridge.connectors import BlockingConnector, ThreadedConnector
from vecbridge.connectors.base import Connector
from vecbridge.schemas import SparseVector
from vecbridge.testing import Backend
from vecbridge.testing.backend import exact_sparse_scores

MILVUS_ANALYZERS = ("english", "standard", "chinese")


def es_sparse_scores(stored: Sequence[SparseVector], query: SparseVector) -> np.ndarray:
    """What Elasticsearch's ``rank_features`` report: the inner product with each stored weight
    truncated to 9 significant bits (Lucene ``FeatureField``), i.e. up to 0.4 % below exact."""
    from vecbridge.connectors.elasticsearch.mapping import truncate_to_9_bits

    rounded = [
        SparseVector.model_construct(indices=v.indices, values=truncate_to_9_bits(v.values).astype(np.float64))
        for v in stored
    ]
    return exact_sparse_scores(rounded, query)


def _sync(connector: Connector) -> Any:
    """The sync connector holding the store's client (under ``BlockingConnector`` / ``ThreadedConnector``)."""
    return connector.wrapped.sync if isinstance(connector, BlockingConnector) else connector


def _milvus_records(connector: Connector) -> Any:
    from vecbridge.connectors.milvus.state import MilvusStateRecords

    return MilvusStateRecords(_sync(connector).client)


def _es_records(connector: Connector) -> Any:
    from vecbridge.connectors.elasticsearch.state import ElasticsearchStateRecords

    return ElasticsearchStateRecords(_sync(connector).client)


def milvus(name: str, uri: Callable[[Path], str], token: Optional[str] = None) -> Backend:
    """``MilvusConnector`` on ``uri(workdir)``: a Lite file or a server."""

    def open_(workdir: Path) -> Connector:
        from vecbridge.connectors.milvus import MilvusConnector

        return MilvusConnector(uri(workdir), token=token)

    return Backend(
        name=name,
        open=open_,
        sparse_tol=1e-5,
        rejects_quote_ids=True,
        text_analyzers=MILVUS_ANALYZERS,
        state_records=_milvus_records,
        reserved_state_name="vecbridge_state",
    )


def lite_file(workdir: Path) -> str:
    return str(workdir / "milvus.db")


def _es_hybrid_native(connector: Connector) -> bool:
    """What the connector itself decides (``native_hybrid`` mode and licence): emulator / basic
    licence -> unsupported; enterprise / trial -> the rrf retriever must equal client-side RRF."""
    from vecbridge.connectors.elasticsearch import NativeHybrid

    mode = connector.config.native_hybrid  # type: ignore[attr-defined]
    if mode is NativeHybrid.NEVER:
        return False
    return mode is NativeHybrid.FORCE or connector.licence_allows_rrf()  # type: ignore[attr-defined]


def _es_chunk_size(connector: Connector, n: int) -> None:
    connector.config = connector.config.model_copy(update={"chunk_size": n})  # type: ignore[attr-defined]


def elasticsearch(name: str, url: str, auth: dict[str, str]) -> Backend:
    """``ElasticsearchConnector`` on ``url``; IP as max_inner_product because the suite also writes
    non-unit vectors, which dot_product rejects."""

    def open_(workdir: Path) -> Connector:
        from vecbridge.connectors.elasticsearch import ElasticsearchConnector, IpSimilarity

        return ElasticsearchConnector(url=url, ip_similarity=IpSimilarity.MAX_INNER_PRODUCT, **auth)

    return Backend(
        name=name,
        open=open_,
        supports_hybrid_native=_es_hybrid_native,
        sparse_scores=es_sparse_scores,
        sparse_tol=1e-5,
        set_chunk_size=_es_chunk_size,
        state_records=_es_records,
        reserved_state_name="vecbridge-state",
    )


def async_milvus(base: Backend, name: str, uri: Callable[[Path], str]) -> Backend:
    """``AsyncMilvusConnector`` run through ``BlockingConnector`` (each call awaited on a private loop thread)."""

    def open_async(workdir: Path) -> Any:
        from vecbridge.connectors.milvus import AsyncMilvusConnector

        return AsyncMilvusConnector(uri(workdir))

    return _blocking(base, name, open_async)


def threaded(base: Backend, name: str) -> Backend:
    """``ThreadedConnector`` (the sync connector in worker threads: the fallback for stores without an
    async client) run through ``BlockingConnector``."""
    return _blocking(base, name, lambda workdir: ThreadedConnector(base.open(workdir)))


def async_elasticsearch(base: Backend, name: str, url: str, auth: dict[str, str]) -> Backend:
    def open_async(workdir: Path) -> Any:
        from vecbridge.connectors.elasticsearch import AsyncElasticsearchConnector, IpSimilarity

        return AsyncElasticsearchConnector(url=url, ip_similarity=IpSimilarity.MAX_INNER_PRODUCT, **auth)

    def hybrid_native(connector: Connector) -> bool:
        from vecbridge.connectors.elasticsearch import NativeHybrid

        wrapped = connector.wrapped  # type: ignore[attr-defined]
        mode = wrapped.config.native_hybrid
        if mode is NativeHybrid.NEVER:
            return False
        return mode is NativeHybrid.FORCE or connector.run(wrapped.licence_allows_rrf())  # type: ignore[attr-defined]

    return replace(_blocking(base, name, open_async), supports_hybrid_native=hybrid_native)


def _blocking(base: Backend, name: str, open_async: Callable[[Path], Any]) -> Backend:
    """``base`` with an async connector behind ``BlockingConnector``; hooks that reach into the
    connector are given the wrapped one."""
    return replace(
        base,
        name=name,
        open=lambda workdir: BlockingConnector(open_async(workdir)),
        set_chunk_size=lambda c, n: base.set_chunk_size(c.wrapped, n),
    )  # type: ignore[attr-defined]


ASYNC_ENABLED = os.environ.get("VECBRIDGE_CONFORMANCE_ASYNC", "1") != "0"
skip_unless_async = pytest.mark.skipif(not ASYNC_ENABLED, reason="VECBRIDGE_CONFORMANCE_ASYNC=0")
