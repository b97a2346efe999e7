"""``MilvusConnector``: the ``Connector`` protocol on pymilvus ``MilvusClient``.

One connector serves Milvus Lite (``uri`` = a local ``*.db`` file, embedded engine, the default)
and a Milvus server (``uri`` = ``http(s)://host:port``, optional ``token``). The client is created
lazily on first use. Documented differences between the two:

- Milvus Lite 2.5.1 has no nullable fields: every document must hold a (non-null) value for every
  filterable key, else ``upsert`` raises ``WriteError`` naming the id and the key. On a server the
  typed fields are nullable and a missing key is stored as NULL.
- A Lite file is locked to one process; ``close()`` releases the lock (milvus_lite keeps its
  embedded server, and with it the lock, alive after ``MilvusClient.close()``). Two connectors on
  the same file inside one process share one embedded server: closing either stops it.
- Milvus Lite 2.5.1 splices primary keys into SQL when it upserts or deletes, so an id holding a
  single quote (``'``) breaks both ("internal error"). On a Lite file such ids are rejected by
  ``upsert`` with ``WriteError`` (they can therefore never exist and ``delete`` skips them).
- Dense index mapping: see ``connectors/milvus/schema.py``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
from pydantic import SecretStr

from connectors.milvus.filters import INT64_MAX, INT64_MIN, UNSAYABLE_CHARS, compile_filter, ids_expression
from connectors.milvus.schema import (
    TEXT_SPARSE_FIELD,
    build_index_params,
    build_schema,
    check_matches,
    check_text_analyzer,
    spec_from_actual,
    spec_from_description,
)
from schemas import (
    CollectionNotFoundError,
    CollectionSpec,
    ConfigurationError,
    ConnectorError,
    Document,
    Filter,
    Hit,
    IndexBatch,
    ScalarType,
    SparseVector,
    UnsupportedOperationError,
    VecbridgeError,
    WriteError,
)

logger = logging.getLogger(__name__)

MAX_TOPK = 16384
_SERVER_URI = re.compile(r"^(https?|tcp|grpc)://[^\s/]+(:\d+)?/?$")
_OUTPUT = ["text", "metadata"]
_BAD_ID = re.compile("[" + re.escape("".join(UNSAYABLE_CHARS)) + "]")


class MilvusConnector:
    """Milvus Lite / Milvus server behind the ``connectors.base.Connector`` protocol."""

    def __init__(
        self,
        uri: str = "./vecbridge.db",
        token: Union[SecretStr, str, None] = None,
        *,
        batch_size: int = 1000,
        timeout: Optional[float] = None,
    ) -> None:
        """Validate the settings; opens nothing (see ``client``)."""
        if not isinstance(uri, str) or not uri.strip():
            raise ConfigurationError(f"uri must be a local '*.db' path or http(s)://host:port, got {uri!r}")
        self._local = "://" not in uri
        if self._local:
            if not uri.endswith(".db"):
                raise ConfigurationError(f"Milvus Lite uri must be a file path ending in '.db', got {uri!r}")
            if not Path(uri).expanduser().absolute().parent.is_dir():
                raise ConfigurationError(f"Milvus Lite uri {uri!r}: folder {Path(uri).parent} does not exist")
            if token is not None:
                raise ConfigurationError("token is only used with a Milvus server uri, not a Milvus Lite file")
        elif not _SERVER_URI.match(uri):
            raise ConfigurationError(f"Milvus server uri must look like http(s)://host:port, got {uri!r}")
        if batch_size <= 0:
            raise ConfigurationError(f"batch_size must be > 0, got {batch_size!r}")
        self.uri = str(Path(uri).expanduser()) if self._local else uri
        self._token = token if isinstance(token, SecretStr) or token is None else SecretStr(token)
        self.batch_size = batch_size
        self.timeout = timeout
        self._client: Any = None
        self._specs: dict[str, CollectionSpec] = {}

    def __repr__(self) -> str:  # never shows the token
        return f"MilvusConnector(uri={self.uri!r}, token={'***' if self._token else None})"

    @property
    def is_local(self) -> bool:
        """True for a Milvus Lite file."""
        return self._local

    @property
    def client(self) -> Any:
        """The ``MilvusClient``, connected on first use."""
        if self._client is None:
            from pymilvus import MilvusClient

            token = self._token.get_secret_value() if self._token else ""
            try:
                self._client = MilvusClient(uri=self.uri, token=token, timeout=self.timeout)
            except Exception as exc:
                hint = (
                    f"; a Milvus Lite file is locked to one process: close the other user of {self.uri!r} "
                    "(connector.close()) or use a Milvus server"
                    if self._local
                    else ""
                )
                raise ConnectorError(f"cannot open Milvus at {self.uri!r}: {exc}{hint}") from exc
        return self._client

    # ---- errors -----------------------------------------------------------------------
    @contextmanager
    def _wrap(self, action: str, collection: str) -> Iterator[None]:
        try:
            yield
        except VecbridgeError:
            raise
        except Exception as exc:
            code = getattr(exc, "code", None)
            if code == 100 or "collection not found" in str(exc).lower():
                self._specs.pop(collection, None)
                raise CollectionNotFoundError(f"Milvus collection {collection!r} does not exist") from exc
            raise ConnectorError(f"Milvus {action} on {collection!r} failed: {exc}") from exc

    # ---- collections ------------------------------------------------------------------
    def has_collection(self, name: str) -> bool:
        with self._wrap("has_collection", name):
            return bool(self.client.has_collection(name))

    def drop_collection(self, name: str) -> None:
        with self._wrap("drop_collection", name):
            self.client.drop_collection(name)
        self._specs.pop(name, None)

    def ensure_collection(self, spec: CollectionSpec) -> None:
        """Create and load the collection, or verify an existing one against ``spec``."""
        check_text_analyzer(spec)
        with self._wrap("ensure_collection", spec.name):
            if self.client.has_collection(spec.name):
                check_matches(spec, self._describe(spec.name), self._local)
            else:
                self.client.create_collection(
                    spec.name,
                    schema=build_schema(spec, nullable=not self._local),
                    index_params=build_index_params(self.client, spec, self._local),
                    consistency_level="Strong",
                )
            self.client.load_collection(spec.name)
        self._specs[spec.name] = spec

    def _describe(self, name: str) -> dict[str, Any]:
        description = self.client.describe_collection(name)
        dense = self.client.describe_index(name, "dense") if "dense" in self.client.list_indexes(name) else None
        return spec_from_description(name, description, dense)

    def _spec(self, name: str) -> CollectionSpec:
        spec = self._specs.get(name)
        if spec is None:
            with self._wrap("describe_collection", name):
                if not self.client.has_collection(name):
                    raise CollectionNotFoundError(f"Milvus collection {name!r} does not exist")
                spec = spec_from_actual(self._describe(name))
                self.client.load_collection(name)
            self._specs[name] = spec
        return spec

    # ---- writes -----------------------------------------------------------------------
    def upsert(self, collection: str, batch: IndexBatch) -> int:
        """Insert or replace by id, in chunks of ``batch_size``. Returns the number written."""
        spec = self._spec(collection)
        _check_batch_vectors(spec, batch)
        rows = self._rows(spec, batch)
        written = 0
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start : start + self.batch_size]
            try:
                result = self.client.upsert(collection, chunk)
            except Exception as exc:
                code = getattr(exc, "code", None)
                if code == 100:
                    self._specs.pop(collection, None)
                    raise CollectionNotFoundError(f"Milvus collection {collection!r} does not exist") from exc
                failed = {row["id"]: str(exc) for row in chunk}
                raise WriteError(
                    f"Milvus upsert into {collection!r} failed after {written} documents: {exc}", failed
                ) from exc
            written += int(result.get("upsert_count", len(chunk)))
        return written

    def _rows(self, spec: CollectionSpec, batch: IndexBatch) -> list[dict[str, Any]]:
        failed: dict[str, str] = {}
        rows = []
        sparse = {name: batch.sparse[name] for name in spec.sparse_fields}
        for i, doc in enumerate(batch.documents):
            row: dict[str, Any] = {"id": doc.id, "text": doc.text, "metadata": doc.metadata}
            reason = _row_problem(spec, doc, row, local=self._local)
            if reason:
                failed[doc.id] = reason
                continue
            if batch.dense is not None:
                row["dense"] = batch.dense[i]
            for name, vectors in sparse.items():
                row[name] = _sparse_row(vectors[i])
            rows.append(row)
        if failed:
            first = next(iter(failed.items()))
            raise WriteError(f"{len(failed)} documents rejected, e.g. id {first[0]!r}: {first[1]}", failed)
        return rows

    def delete(self, collection: str, ids: Optional[Sequence[str]] = None, filter: Optional[Filter] = None) -> int:
        """Delete documents whose id is in ``ids`` or that match ``filter``; returns how many existed."""
        if ids is None and filter is None:
            raise ConfigurationError("delete needs ids and/or a filter")
        spec = self._spec(collection)
        parts = []
        ids = [i for i in dict.fromkeys(ids or ()) if not (self._local and "'" in i)]
        if ids:
            parts.append(ids_expression(ids))
        if filter is not None:
            parts.append(compile_filter(filter, spec))
        if not parts:
            return 0
        expr = parts[0] if len(parts) == 1 else " or ".join(f"({p})" for p in parts)
        with self._wrap("delete", collection):
            n = self._count_expr(collection, expr)
            if n:
                self.client.delete(collection, filter=expr)
        return n

    # ---- reads ------------------------------------------------------------------------
    def get(self, collection: str, ids: Sequence[str]) -> list[Document]:
        """Documents for the ids that exist, in the order of ``ids``."""
        self._spec(collection)
        unique = list(dict.fromkeys(ids))
        found: dict[str, Document] = {}
        with self._wrap("get", collection):
            for start in range(0, len(unique), 1000):
                expr = ids_expression(unique[start : start + 1000])
                for row in self.client.query(collection, filter=expr, output_fields=["id", *_OUTPUT]):
                    found[row["id"]] = Document(id=row["id"], text=row["text"], metadata=row["metadata"] or {})
        return [found[i] for i in ids if i in found]

    def count(self, collection: str, filter: Optional[Filter] = None) -> int:
        spec = self._spec(collection)
        expr = "" if filter is None else compile_filter(filter, spec)
        with self._wrap("count", collection):
            return self._count_expr(collection, expr)

    def _count_expr(self, collection: str, expr: str) -> int:
        rows = self.client.query(collection, filter=expr, output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    # ---- search -----------------------------------------------------------------------
    def search_dense(
        self, collection: str, vector: np.ndarray, k: int, filter: Optional[Filter] = None
    ) -> list[Hit]:
        spec = self._spec(collection)
        _check_k(k)
        query = _dense_query(spec, vector)
        expr = "" if filter is None else compile_filter(filter, spec)
        with self._wrap("search_dense", collection):
            result = self.client.search(
                collection,
                data=[query],
                anns_field="dense",
                limit=k,
                filter=expr,
                output_fields=_OUTPUT,
                search_params={"metric_type": spec.metric.value},
            )
        return _hits(result)

    def search_sparse(
        self,
        collection: str,
        vector: SparseVector,
        k: int,
        filter: Optional[Filter] = None,
        field: str = "sparse",
    ) -> list[Hit]:
        spec = self._spec(collection)
        _check_k(k)
        _check_sparse_field(spec, field)
        expr = "" if filter is None else compile_filter(filter, spec)
        if len(vector) == 0:
            return []
        with self._wrap("search_sparse", collection):
            result = self.client.search(
                collection,
                data=[_sparse_row(vector)],
                anns_field=field,
                limit=k,
                filter=expr,
                output_fields=_OUTPUT,
                search_params={"metric_type": "IP"},
            )
        return _hits(result)

    def search_text(self, collection: str, text: str, k: int, filter: Optional[Filter] = None) -> list[Hit]:
        """Milvus full-text search: BM25 (k1 1.2, b 0.75, statistics kept by the server) of ``text``
        against the analyzed ``text`` field; needs a collection created with ``spec.text_analyzer``."""
        spec = self._spec(collection)
        _check_k(k)
        if spec.text_analyzer is None:
            raise UnsupportedOperationError(
                f"collection {collection!r} has no full-text index: create it with CollectionSpec.text_analyzer "
                "(HybridIndex.create(..., text=True)), or index BM25 as sparse vectors (encoders.BM25Encoder)"
            )
        if not isinstance(text, str):
            raise ConfigurationError(f"text query must be str, got {type(text).__name__}")
        if not text.strip():
            return []
        expr = "" if filter is None else compile_filter(filter, spec)
        with self._wrap("search_text", collection):
            result = self.client.search(
                collection,
                data=[text],
                anns_field=TEXT_SPARSE_FIELD,
                limit=k,
                filter=expr,
                output_fields=_OUTPUT,
                search_params={"metric_type": "BM25"},
            )
        return _hits(result)

    def search_hybrid_native(
        self,
        collection: str,
        dense: Optional[np.ndarray],
        sparse: dict[str, SparseVector],
        k: int,
        filter: Optional[Filter] = None,
        rrf_k: float = 60.0,
        window: int = 50,
    ) -> list[Hit]:
        """Milvus ``hybrid_search`` with ``RRFRanker(rrf_k)``; each retriever takes ``window`` candidates."""
        from pymilvus import AnnSearchRequest, RRFRanker

        spec = self._spec(collection)
        _check_k(k)
        _check_k(window, "window")
        if not 0 < rrf_k < MAX_TOPK or float(rrf_k) != int(rrf_k):
            raise ConfigurationError(f"Milvus RRF needs an integer rrf_k in (0, {MAX_TOPK}), got {rrf_k!r}")
        expr = "" if filter is None else compile_filter(filter, spec)
        requests = []
        if dense is not None:
            requests.append(
                AnnSearchRequest(
                    data=[_dense_query(spec, dense)], anns_field="dense",
                    param={"metric_type": spec.metric.value}, limit=window, expr=expr or None,
                )
            )
        for field, vector in sparse.items():
            _check_sparse_field(spec, field)
            if len(vector):
                requests.append(
                    AnnSearchRequest(
                        data=[_sparse_row(vector)], anns_field=field, param={"metric_type": "IP"},
                        limit=window, expr=expr or None,
                    )
                )
        if not requests:
            if dense is None and not sparse:
                raise ConfigurationError("search_hybrid_native needs a dense vector and/or sparse vectors")
            return []
        with self._wrap("search_hybrid_native", collection):
            result = self.client.hybrid_search(
                collection, requests, RRFRanker(int(rrf_k)), limit=k, output_fields=_OUTPUT
            )
        return _hits(result)

    # ---- lifecycle --------------------------------------------------------------------
    def close(self) -> None:
        """Close the client and, for a Lite file, stop its embedded server (releasing the file lock)."""
        client, self._client = self._client, None
        self._specs.clear()
        if client is None:
            return
        try:
            client.close()
        finally:
            if self._local:
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(self.uri)

    def __enter__(self) -> "MilvusConnector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---- helpers ----------------------------------------------------------------------------
def _check_k(k: int, name: str = "k") -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_TOPK:
        raise ConfigurationError(f"{name} must be an integer in [1, {MAX_TOPK}] (Milvus top-k limit), got {k!r}")


def _check_sparse_field(spec: CollectionSpec, field: str) -> None:
    if field not in spec.sparse_fields:
        raise ConfigurationError(
            f"collection {spec.name!r} has no sparse field {field!r}; sparse fields: {list(spec.sparse_fields)}"
        )


def _dense_query(spec: CollectionSpec, vector: Any) -> np.ndarray:
    if spec.dense_dim is None:
        raise UnsupportedOperationError(f"collection {spec.name!r} has no dense field")
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.shape != (spec.dense_dim,):
        raise ConfigurationError(
            f"dense query for {spec.name!r} must have shape ({spec.dense_dim},), got {np.shape(vector)}"
        )
    if not np.all(np.isfinite(array)):
        raise ConfigurationError("dense query has non-finite values")
    return array


def _check_batch_vectors(spec: CollectionSpec, batch: IndexBatch) -> None:
    if spec.dense_dim is not None:
        if batch.dense is None:
            raise ConfigurationError(f"collection {spec.name!r} needs dense vectors of dim {spec.dense_dim}")
        if batch.dense.shape[1] != spec.dense_dim:
            raise ConfigurationError(
                f"dense vectors have dim {batch.dense.shape[1]}, collection {spec.name!r} has dim {spec.dense_dim}"
            )
    elif batch.dense is not None:
        raise ConfigurationError(f"collection {spec.name!r} has no dense field but the batch has dense vectors")
    missing = [f for f in spec.sparse_fields if f not in batch.sparse]
    extra = [f for f in batch.sparse if f not in spec.sparse_fields]
    if missing or extra:
        raise ConfigurationError(
            f"batch sparse fields {sorted(batch.sparse)} do not match collection {spec.name!r}'s "
            f"{list(spec.sparse_fields)} (missing {missing}, unknown {extra})"
        )


def _row_problem(spec: CollectionSpec, doc: Document, row: dict[str, Any], local: bool) -> Optional[str]:
    """Fill the typed filterable fields of ``row``; return why the document cannot be stored, if so."""
    if _BAD_ID.search(doc.id):
        return "id contains a newline, carriage return or NUL, which Milvus expressions cannot address"
    if local and "'" in doc.id:
        return "id contains a single quote, which Milvus Lite 2.5.1 cannot upsert or delete"
    if len(doc.id) * 4 > 512 and len(doc.id.encode()) > 512:  # UTF-8: at most 4 bytes a character
        return "id is longer than 512 bytes"
    if len(doc.text) * 4 > spec.text_max_length and len(doc.text.encode()) > spec.text_max_length:
        return f"text is {len(doc.text.encode())} bytes, more than text_max_length={spec.text_max_length}"
    for key, kind in spec.filterable.items():
        value = doc.metadata.get(key)
        if value is None:
            if local:
                return f"filterable key {key!r} is missing or null (Milvus Lite has no nullable fields)"
            row[key] = None
            continue
        converted = _scalar(value, kind)
        if converted is None:
            return f"filterable key {key!r} has value {value!r}, not of type {kind.value}"
        row[key] = converted
    return None


def _scalar(value: Any, kind: ScalarType) -> Any:
    if kind is ScalarType.BOOL:
        return value if isinstance(value, bool) else None
    if kind is ScalarType.STRING:
        return value if isinstance(value, str) and len(value.encode()) <= 65535 else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if kind is ScalarType.INT:
        return value if isinstance(value, int) and INT64_MIN <= value <= INT64_MAX else None
    return float(value) if np.isfinite(value) else None


def _sparse_row(vector: SparseVector) -> dict[int, float]:
    return dict(zip(vector.indices.tolist(), vector.values.tolist()))


def _hits(result: Any) -> list[Hit]:
    hits = result[0] if result else []
    out = []
    for hit in hits:
        entity = hit.get("entity", {})
        out.append(
            Hit(id=hit["id"], score=float(hit["distance"]), text=entity.get("text", ""),
                metadata=entity.get("metadata") or {})
        )
    return out
