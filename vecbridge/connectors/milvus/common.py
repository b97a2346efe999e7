"""What ``MilvusConnector`` and ``AsyncMilvusConnector`` share (``MilvusCommon``): settings checks,
the collection caches, error mapping, row building and write accounting. Pure: no store I/O here;
the subclasses only send (``connector.py`` through ``MilvusClient``, ``async_connector.py`` through
``AsyncMilvusClient``), as ``ElasticsearchCommon`` does for Elasticsearch."""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
from pydantic import SecretStr

from vecbridge.connectors.milvus import requests as rq
from vecbridge.connectors.milvus.calls import is_transient, safe_uri, short_error
from vecbridge.connectors.milvus.filters import (
    INT64_MAX,
    INT64_MIN,
    PLACEHOLDERS,
    UNSAYABLE_CHARS,
    presence_field,
    stored_value,
)
from vecbridge.connectors.milvus.json_filters import META_TYPES_FIELD, type_map
from vecbridge.connectors.milvus.schema import HAS_DENSE_FIELD
from vecbridge.schemas import (
    CollectionNotFoundError,
    CollectionSpec,
    ConfigurationError,
    ConnectorError,
    Document,
    FilterError,
    IndexBatch,
    ScalarType,
    StoreUnavailableError,
    WriteError,
)
from vecbridge.schemas.arguments import check_int, check_number
from vecbridge.schemas.dates import is_datetime
from vecbridge.schemas.errors import redact

logger = logging.getLogger("vecbridge.connectors.milvus.connector")  # the name the connector always logged under

_SERVER_URI = re.compile(r"^(https?|tcp|grpc)://[^\s/]+(:\d+)?/?$")
_LITE_FILE_NAME = re.compile(r"^[a-zA-Z0-9.\-_]+$")  # milvus_lite.server.Server's own rule (and <= 36 chars)
_BAD_ID = re.compile("[" + re.escape("".join(UNSAYABLE_CHARS)) + "]")


@dataclass
class Progress:
    """What one ``upsert`` call has done so far (both connectors write chunks through it)."""

    written: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    def acknowledge(self, result: Any, chunk: list[dict[str, Any]]) -> None:
        self.written += int(result.get("upsert_count", len(chunk)))

    def split_rejected(self, chunk: list[dict[str, Any]], exc: ConnectorError) -> list[list[dict[str, Any]]]:
        """After the server rejected ``chunk``: its halves to retry, or (one row) nothing, the row failed."""
        if len(chunk) == 1:
            self.failed[chunk[0]["id"]] = f"rejected by Milvus: {short_error(exc.__cause__ or exc)}"
            return []
        middle = len(chunk) // 2
        return [chunk[:middle], chunk[middle:]]

    def unavailable(self, exc: StoreUnavailableError, total: int) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"{exc}; {self.written} of {total} documents of this batch were written", self.written
        )

    def finish(self, collection: str, total: int) -> int:
        """``written``, or ``WriteError`` naming exactly the ids not written."""
        if self.failed:
            doc_id, reason = next(iter(self.failed.items()))
            raise WriteError(
                f"{len(self.failed)} of {total} documents not written to {collection!r} "
                f"({self.written} written), e.g. id {doc_id!r}: {reason}",
                self.failed,
                self.written,
            )
        return self.written


class MilvusCommon:
    """Settings, caches, error mapping and row building of both Milvus connectors (no I/O)."""

    SEARCH_WITHOUT_CONTENT = True  # searches take content=False: ids and scores only (output_fields=[])

    def __init__(
        self,
        uri: str = "./vecbridge.db",
        token: Union[SecretStr, str, None] = None,
        *,
        batch_size: int = 1000,
        timeout: Optional[float] = None,
        retry_attempts: int = 8,
        retry_max_wait: float = 30.0,
    ) -> None:
        """Validate the settings; opens nothing.

        ``timeout``: seconds per store call (None: no limit). ``retry_attempts`` / ``retry_max_wait``:
        the retry budget of one call on transient errors (tries, and seconds in all)."""
        if not isinstance(uri, str) or not uri.strip():
            raise ConfigurationError(f"uri must be a local '*.db' path or http(s)://host:port, got {uri!r}")
        shown = redact(repr(uri))  # messages never show a password (user:password@ in the uri)
        self._local = "://" not in uri
        if self._local:
            if not uri.endswith(".db"):
                raise ConfigurationError(f"Milvus Lite uri must be a file path ending in '.db', got {shown}")
            name = Path(uri).name
            if not _LITE_FILE_NAME.match(name) or len(name) > 36:
                raise ConfigurationError(
                    f"Milvus Lite file name {name!r} (uri {shown}) is not accepted by milvus_lite 2.5.1: "
                    "use at most 36 characters from A-Z a-z 0-9 . - _ (the folder may hold any characters)"
                )
            if not Path(uri).expanduser().absolute().parent.is_dir():
                raise ConfigurationError(f"Milvus Lite uri {shown}: folder {Path(uri).parent} does not exist")
            if token is not None:
                raise ConfigurationError("token is only used with a Milvus server uri, not a Milvus Lite file")
        elif not _SERVER_URI.match(uri):
            raise ConfigurationError(
                f"Milvus server uri must look like http(s)://host:port (credentials go in token), got {shown}"
            )
        check_int(batch_size, "batch_size", low=1)
        check_int(retry_attempts, "retry_attempts", low=1)
        check_number(retry_max_wait, "retry_max_wait", low=0)
        if timeout is not None:
            check_number(timeout, "timeout", low=0, low_open=True)
        self.uri = str(Path(uri).expanduser()) if self._local else uri
        self._token = token if isinstance(token, SecretStr) or token is None else SecretStr(token)
        self.batch_size = batch_size
        self.timeout = timeout
        self.retry_attempts = retry_attempts
        self.retry_max_wait = float(retry_max_wait)
        self._specs: dict[str, CollectionSpec] = {}
        self._dense_flag: dict[str, bool] = {}  # per collection: has it HAS_DENSE_FIELD (older ones do not)
        self._typed_meta: dict[str, bool] = {}  # per collection: has it META_TYPES_FIELD (older ones do not)
        self._lock = threading.RLock()  # caches (and the sync client); never held during a store call

    def __repr__(self) -> str:  # never shows the token
        return f"{type(self).__name__}(uri={safe_uri(self.uri)!r}, token={'***' if self._token else None})"

    @property
    def is_local(self) -> bool:
        """True for a Milvus Lite file."""
        return self._local

    # ---- caches -------------------------------------------------------------------------
    def remember(self, spec: CollectionSpec, flagged: bool, typed_meta: bool) -> CollectionSpec:
        """Cache ``spec``, whether its rows carry ``HAS_DENSE_FIELD`` and whether they carry
        ``META_TYPES_FIELD``; returns the cached spec."""
        with self._lock:
            spec = self._specs.setdefault(spec.name, spec)
            self._dense_flag.setdefault(spec.name, flagged)
            self._typed_meta.setdefault(spec.name, typed_meta)
        return spec

    def cached_spec(self, collection: str) -> Optional[CollectionSpec]:
        """The cached spec of ``collection`` (None: not looked up yet)."""
        return self._specs.get(collection)

    def cached_flag(self, collection: str) -> bool:
        """Whether ``collection`` (looked up already) marks rows with ``HAS_DENSE_FIELD``."""
        return self._dense_flag.get(collection, False)

    def forget(self, collection: str) -> None:
        """Drop what is cached about ``collection`` (dropped, or not found): the next call asks the store."""
        with self._lock:
            self._specs.pop(collection, None)
            self._dense_flag.pop(collection, None)
            self._typed_meta.pop(collection, None)

    # ---- errors ---------------------------------------------------------------------------
    def _raise_final(self, action: str, collection: str, exc: Exception, tries: int, started: float) -> None:
        """Raise what a driver error that survived the retries means ."""
        if is_transient(exc):
            logger.debug("Milvus %s on %r: giving up", action, collection, exc_info=exc)
            raise StoreUnavailableError(
                f"Milvus at {safe_uri(self.uri)} unavailable: {action}"
                + (f" on {collection!r}" if collection else "")
                + f" failed {tries} times over {time.monotonic() - started:.1f} s "
                f"(last error: {short_error(exc)})"
            ) from None
        self._raise_mapped(action, collection, exc)

    def _raise_mapped(self, action: str, collection: str, exc: Exception) -> None:
        code = getattr(exc, "code", None)
        if code == 100 or "collection not found" in str(exc).lower():
            self.forget(collection)
            raise CollectionNotFoundError(f"Milvus collection {collection!r} does not exist") from exc
        if META_TYPES_FIELD in str(exc) and not self._typed_meta.get(collection, True):
            raise FilterError(
                f"collection {collection!r} was created before vecbridge kept {META_TYPES_FIELD!r}, "
                "which this filter on "
                "an undeclared key needs (null / missing, a negated range, an array index or an integer beyond 2**53); "
                "re-create the collection"
            ) from None
        where = f" on {collection!r}" if collection else ""
        raise ConnectorError(f"Milvus {action}{where} failed: {short_error(exc)}") from exc

    # ---- writes ---------------------------------------------------------------------------
    def _rows(
        self, spec: CollectionSpec, batch: IndexBatch, failed: dict[str, str], lite: bool
    ) -> list[dict[str, Any]]:
        """The storable rows of ``batch``; the others go to ``failed`` with a reason."""
        rows = []
        sparse = {name: batch.sparse[name] for name in spec.sparse_fields}
        flagged = self._dense_flag.get(spec.name, False)
        for i, doc in enumerate(batch.documents):
            row: dict[str, Any] = {"id": doc.id, "text": doc.text, "metadata": doc.metadata}
            if self._typed_meta.get(spec.name, True):
                row[META_TYPES_FIELD] = type_map(doc.metadata)
            reason = _row_problem(spec, doc, row, lite=lite)
            if not reason and batch.dense is not None and not batch.has_dense(i) and not flagged:
                reason = (
                    f"document has no dense vector and collection {spec.name!r} was created before "
                    "vecbridge could store such documents; recreate the collection"
                )
            if reason:
                failed[doc.id] = reason
                continue
            if batch.dense is not None:
                present = batch.has_dense(i)
                row["dense"] = batch.dense[i] if present else np.zeros(spec.dense_dim or 0, dtype=np.float32)
                if flagged:
                    row[HAS_DENSE_FIELD] = present
            for name, vectors in sparse.items():
                row[name] = rq.sparse_row(vectors[i])
            rows.append(row)
        return rows


def check_batch_vectors(spec: CollectionSpec, batch: IndexBatch) -> None:
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


def _row_problem(spec: CollectionSpec, doc: Document, row: dict[str, Any], lite: bool) -> Optional[str]:
    """Fill the typed filterable fields of ``row``; return why the document cannot be stored, if so."""
    if _BAD_ID.search(doc.id):
        return "id contains a newline, carriage return or NUL, which Milvus expressions cannot address"
    if lite and "'" in doc.id:
        return "id contains a single quote, which Milvus Lite 2.5.1 cannot upsert or delete"
    if len(doc.id) * 4 > 512 and len(doc.id.encode()) > 512:  # UTF-8: at most 4 bytes a character
        return "id is longer than 512 bytes"
    if len(doc.text) * 4 > spec.text_max_length and len(doc.text.encode()) > spec.text_max_length:
        return f"text is {len(doc.text.encode())} bytes, more than text_max_length={spec.text_max_length}"
    for key, kind in spec.filterable.items():
        value = doc.metadata.get(key)
        if value is None:  # missing or null: the placeholder, flagged absent
            row[key], row[presence_field(key)] = PLACEHOLDERS[kind], False
            continue
        converted = _scalar(value, kind)
        if converted is None:
            expected = "an ISO-8601 date/time" if kind is ScalarType.DATETIME else f"of type {kind.value}"
            return f"filterable key {key!r} has value {value!r}, not {expected}"
        row[key], row[presence_field(key)] = converted, True
    return None


def _scalar(value: Any, kind: ScalarType) -> Any:
    if kind is ScalarType.DATETIME:
        return stored_value(value, kind) if is_datetime(value) else None
    if kind is ScalarType.BOOL:
        return value if isinstance(value, bool) else None
    if kind is ScalarType.STRING:
        return value if isinstance(value, str) and len(value.encode()) <= 65535 else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if kind is ScalarType.INT:
        return value if isinstance(value, int) and INT64_MIN <= value <= INT64_MAX else None
    return float(value) if np.isfinite(value) else None
