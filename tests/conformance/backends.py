"""Backends the conformance suite runs against.

To add a backend, append a ``Backend`` to ``BACKENDS``. ``open(workdir)`` returns a connector for
the backend's store; called twice with the same ``workdir`` it must reach the same data (the
persistence test closes and reopens). Each test uses its own collection name and drops it
afterwards, so server backends need no other cleanup. Score hooks turn the exact similarity
computed by numpy into the raw score the backend reports.

Registered: ``milvus-lite`` (a Lite file, always), ``milvus-server`` (Milvus Lite run as a gRPC
server process on 127.0.0.1, started once per test process by tests/milvus_server.py, always: the
``uri="http://..."`` code path), ``milvus-docker`` (a real Milvus, when ``VECBRIDGE_TEST_MILVUS_URI``
is set) and Elasticsearch — ``es-emulator`` (the noida-db EMULATOR,
started once per test process, on by default whenever ``noida_db`` is importable; skipped with a
reason otherwise) or ``elasticsearch`` (a real server, when ``VECBRIDGE_TEST_ES_URL`` is set).
``VECBRIDGE_CONFORMANCE_ES=0`` turns the Elasticsearch backend off.

Async connectors run the same tests through ``vecbridge.connectors.BlockingConnector`` (each call awaited on
a private event loop thread): ``async-milvus-lite`` (``AsyncMilvusConnector`` on a Lite file),
``async-milvus-server``, ``async-es-emulator`` and ``threaded-milvus-lite`` (``ThreadedConnector``,
the sync connector in worker threads: the fallback for stores without an async client).
``VECBRIDGE_CONFORMANCE_ASYNC=0`` turns them off.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np
import pytest

from vecbridge.connectors.base import Connector
from vecbridge.schemas import Metric, SparseVector


def _milvus_dense_score(metric: Metric, similarity: float) -> float:
    """Milvus reports IP and cosine as is and L2 as the squared distance (the oracle passes it)."""
    return similarity


def exact_sparse_scores(stored: Sequence[SparseVector], query: SparseVector) -> np.ndarray:
    """Sparse inner products in float64 with the weights as written."""
    return np.array([query.dot(v) for v in stored], dtype=np.float64)


def es_sparse_scores(stored: Sequence[SparseVector], query: SparseVector) -> np.ndarray:
    """What Elasticsearch's ``rank_features`` report: the inner product with each stored weight
    truncated to 9 significant bits (Lucene ``FeatureField``), i.e. up to 0.4 % below exact."""
    from vecbridge.connectors.elasticsearch.mapping import truncate_to_9_bits

    rounded = [
        SparseVector.model_construct(indices=v.indices, values=truncate_to_9_bits(v.values).astype(np.float64))
        for v in stored
    ]
    return exact_sparse_scores(rounded, query)


@dataclass(frozen=True)
class Backend:
    """One backend under test.

    - ``open(workdir)``: a connector on the store under ``workdir`` (file backends) or a server.
    - ``supports_hybrid_native``: whether ``search_hybrid_native`` works (else it must raise
      ``UnsupportedOperationError``): a bool, or ``f(connector) -> bool`` when it depends on the
      server (Elasticsearch: the licence). Ask through ``hybrid_native(connector)``.
    - ``dense_score(metric, exact)``: raw score expected for an exact similarity (exact = IP, cosine,
      or squared L2 distance for ``Metric.L2``).
    - ``sparse_scores(stored, query)``: the raw sparse scores the backend should report for every
      stored vector, including any storage rounding it does (so the check stays exact).
    - ``sparse_tol``: relative tolerance of sparse scores against ``sparse_scores`` (float32 sums).
    - ``rejects_quote_ids``: ids holding ``'`` cannot be stored (Milvus Lite's engine).
    - ``set_chunk_size(connector, n)``: make the connector write in chunks of ``n`` rows.
    - ``text_analyzers``: the ``CollectionSpec.text_analyzer`` values whose full-text BM25 the backend
      builds and ``search_text`` searches (checked against vecbridge's BM25 with the same analysis,
      ``tests/conformance/test_text.py``); empty: the backend analyzes ``text`` its own way.
    """

    name: str
    open: Callable[[Path], Connector]
    supports_hybrid_native: Union[bool, Callable[[Connector], bool]] = True
    dense_score: Callable[[Metric, float], float] = _milvus_dense_score
    sparse_scores: Callable[[Sequence[SparseVector], SparseVector], np.ndarray] = exact_sparse_scores
    sparse_tol: float = 1e-4
    rejects_quote_ids: bool = False
    set_chunk_size: Callable[[Connector, int], None] = lambda connector, n: setattr(connector, "batch_size", n)
    text_analyzers: tuple[str, ...] = ()
    marks: tuple[Any, ...] = field(default_factory=tuple)
    unwrap: Callable[[Connector], Any] = lambda connector: connector
    """The sync connector holding the store's client, for tests that inspect stored records."""

    def hybrid_native(self, connector: Connector) -> bool:
        """Whether ``connector`` (of this backend) must support ``search_hybrid_native``."""
        flag = self.supports_hybrid_native
        return flag(connector) if callable(flag) else bool(flag)


def _open_milvus_lite(workdir: Path) -> Connector:
    from vecbridge.connectors.milvus import MilvusConnector

    return MilvusConnector(str(workdir / "milvus.db"))


def _open_milvus_lite_server(workdir: Path) -> Connector:
    """Milvus Lite's gRPC server (one per test process, loopback), reached as ``http://127.0.0.1:P``."""
    from vecbridge.connectors.milvus import MilvusConnector
    from tests.milvus_server import shared_milvus_uri

    return MilvusConnector(shared_milvus_uri())


def _open_milvus_docker(workdir: Path) -> Connector:
    """A real Milvus server from docker/ (``VECBRIDGE_TEST_MILVUS_URI``, e.g. http://127.0.0.1:19530)."""
    from vecbridge.connectors.milvus import MilvusConnector

    return MilvusConnector(os.environ["VECBRIDGE_TEST_MILVUS_URI"], token=os.environ.get("VECBRIDGE_TEST_MILVUS_TOKEN"))


def _open_es(workdir: Path) -> Connector:
    """Elasticsearch: the noida-db EMULATOR (or VECBRIDGE_TEST_ES_URL); IP as max_inner_product
    because the suite also writes non-unit vectors, which dot_product rejects."""
    from vecbridge.connectors.elasticsearch import ElasticsearchConnector, IpSimilarity
    from tests.elasticsearch.emulator import external_es_auth, shared_es_url

    return ElasticsearchConnector(url=shared_es_url(), ip_similarity=IpSimilarity.MAX_INNER_PRODUCT, **external_es_auth())


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


def _es_backend() -> Backend:
    from tests.elasticsearch.emulator import external_es_url, noida_binary

    real = external_es_url() is not None
    marks: tuple[Any, ...] = (pytest.mark.integration,) if real else ()
    if not real and noida_binary() is None:
        marks = (pytest.mark.skip(reason="noida-db (ES emulator) not installed and VECBRIDGE_TEST_ES_URL not set"),)
    return Backend(
        name="elasticsearch" if real else "es-emulator",
        open=_open_es,
        supports_hybrid_native=_es_hybrid_native,
        sparse_scores=es_sparse_scores,
        sparse_tol=1e-5,
        set_chunk_size=_es_chunk_size,
        marks=marks,
    )


def _blocking(open_async: Callable[[Path], Any]) -> Callable[[Path], Connector]:
    """``open`` for an async connector: the sync protocol over it, on a private event loop thread."""

    def open_(workdir: Path) -> Connector:
        from vecbridge.connectors import BlockingConnector

        return BlockingConnector(open_async(workdir))

    return open_


def _async_backend(base: Backend, name: str, open_async: Callable[[Path], Any], **changes: Any) -> Backend:
    """``base`` run through ``BlockingConnector``; hooks that reach into the connector see the wrapped one."""
    from dataclasses import replace

    return replace(base, name=name, open=_blocking(open_async), unwrap=lambda c: c.wrapped.sync,  # type: ignore[attr-defined]
                   set_chunk_size=lambda c, n: base.set_chunk_size(c.wrapped, n), **changes)  # type: ignore[attr-defined]


def _async_milvus(uri: Callable[[Path], str]) -> Callable[[Path], Any]:
    def open_(workdir: Path) -> Any:
        from vecbridge.connectors.milvus import AsyncMilvusConnector

        return AsyncMilvusConnector(uri(workdir))

    return open_


def _threaded_milvus_lite(workdir: Path) -> Any:
    from vecbridge.connectors import ThreadedConnector

    return ThreadedConnector(_open_milvus_lite(workdir))


def _async_es(workdir: Path) -> Any:
    from vecbridge.connectors.elasticsearch import AsyncElasticsearchConnector, IpSimilarity
    from tests.elasticsearch.emulator import external_es_auth, shared_es_url

    return AsyncElasticsearchConnector(
        url=shared_es_url(), ip_similarity=IpSimilarity.MAX_INNER_PRODUCT, **external_es_auth()
    )


def _async_es_hybrid_native(connector: Connector) -> bool:
    from vecbridge.connectors.elasticsearch import NativeHybrid

    wrapped = connector.wrapped  # type: ignore[attr-defined]
    mode = wrapped.config.native_hybrid
    if mode is NativeHybrid.NEVER:
        return False
    return mode is NativeHybrid.FORCE or connector.run(wrapped.licence_allows_rrf())  # type: ignore[attr-defined]


def _async_backends(sync: list[Backend]) -> list[Backend]:
    by_name = {b.name: b for b in sync}
    out = []
    if "milvus-lite" in by_name:
        lite = by_name["milvus-lite"]
        out.append(_async_backend(lite, "async-milvus-lite", _async_milvus(lambda w: str(w / "milvus.db"))))
        out.append(_async_backend(lite, "threaded-milvus-lite", _threaded_milvus_lite))
    if "milvus-server" in by_name:
        out.append(_async_backend(by_name["milvus-server"], "async-milvus-server",
                                  _async_milvus(lambda w: _shared_server_uri())))
    for name in ("es-emulator", "elasticsearch"):
        if name in by_name:
            out.append(_async_backend(by_name[name], f"async-{name}", _async_es,
                                      supports_hybrid_native=_async_es_hybrid_native))
    return out


def _shared_server_uri() -> str:
    from tests.milvus_server import shared_milvus_uri

    return shared_milvus_uri()


BACKENDS: list[Backend] = [
    Backend(name="milvus-lite", open=_open_milvus_lite, sparse_tol=1e-5,
            rejects_quote_ids=True, text_analyzers=("english", "standard", "chinese")),
    Backend(name="milvus-server", open=_open_milvus_lite_server, sparse_tol=1e-5,
            rejects_quote_ids=True, text_analyzers=("english", "standard", "chinese")),
]
if os.environ.get("VECBRIDGE_TEST_MILVUS_URI"):  # docker/run-integration.sh
    BACKENDS.append(Backend(name="milvus-docker", open=_open_milvus_docker, sparse_tol=1e-5,
                            text_analyzers=("english", "standard", "chinese"), marks=(pytest.mark.integration,)))
if os.environ.get("VECBRIDGE_CONFORMANCE_ES", "1") != "0":
    BACKENDS.append(_es_backend())
if os.environ.get("VECBRIDGE_CONFORMANCE_ASYNC", "1") != "0":
    BACKENDS.extend(_async_backends(BACKENDS))
