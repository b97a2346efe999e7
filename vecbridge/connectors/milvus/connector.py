"""``MilvusConnector``: the ``Connector`` protocol on pymilvus ``MilvusClient``.

One connector serves Milvus Lite (``uri`` = a local ``*.db`` file, embedded engine, the default)
and a Milvus server (``uri`` = ``http(s)://host:port``, optional ``token``). The client is created
lazily on first use. Documented differences between the two:

What the engine supports is learned from the server once per connector (``capabilities``:
Milvus Lite, whether as a file or as ``milvus_lite.server``, does not implement ``GetVersion``),
never guessed from the URI:

- Documents may lack any filterable key (or hold null): Milvus Lite 2.5.1 has no nullable fields,
  so every engine stores the type's placeholder in the typed field and false in a BOOL presence
  field ``<key>__present`` (connectors/milvus/filters.py); a value of the wrong type (or a DATETIME
  value that is not an ISO-8601 date/time) is rejected with ``WriteError`` naming the id, key and value.
- A Lite file is locked to one process; ``close()`` releases the lock (milvus_lite keeps its
  embedded server, and with it the lock, alive after ``MilvusClient.close()``). Two connectors on
  the same file inside one process share one embedded server: closing either stops it.
- **Several processes on one Lite database**: serve the file with Milvus Lite's own server,
  ``python -c "from milvus_lite.server import Server; s = Server('/data/vec.db',
  address='127.0.0.1:19530'); s.start(); s._p.wait()"``, and give every process
  ``uri="http://127.0.0.1:19530"`` (tested with two writing processes: tests/milvus).
- Milvus Lite 2.5.1 splices primary keys into SQL when it upserts or deletes, so an id holding a
  single quote (``'``) breaks both ("internal error"). On Lite such ids are rejected by ``upsert``
  with ``WriteError`` (they can therefore never exist and ``delete`` skips them).
- Dense index mapping: see ``connectors/milvus/schema.py`` (Lite's engine maps as "Milvus Lite").

Writes: ``upsert`` writes every valid row in chunks of ``batch_size``; a chunk the server rejects
is split in halves until the offending rows are isolated, so ``WriteError.failed`` lists exactly
the ids not written and ``WriteError.written`` the acknowledged rows. Transient errors
(unreachable, unavailable, deadline, rate limit) are retried on every call with exponential
backoff and jitter (``retry_attempts`` tries within ``retry_max_wait`` seconds); a store that stays
down raises one ``StoreUnavailableError``. Other errors are not retried.

Threads: one connector may be shared by threads; the lazy client and the collection cache are
created under a lock, store calls run concurrently (pymilvus' gRPC channel is thread-safe).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, TypeVar, Union

import numpy as np
from pydantic import SecretStr

from vecbridge.connectors import state_store
from vecbridge.connectors.milvus.calls import (
    NO_DRIVER_RETRY,
    Capabilities,
    is_transient,
    probe,
    quiet_driver_logs,
    retrying,
    safe_uri,
    short_error,
)
from vecbridge.connectors.milvus import requests as rq
from vecbridge.connectors.milvus.filters import INT64_MAX, INT64_MIN, PLACEHOLDERS, UNSAYABLE_CHARS, presence_field, stored_value
from vecbridge.connectors.milvus.schema import (
    build_index_params,
    build_schema,
    check_matches,
    HAS_DENSE_FIELD,
    check_reserved,
    spec_from_actual,
    spec_from_description,
)
from vecbridge.connectors.milvus.state import PART_CHARS, STATE_COLLECTION, MilvusStateRecords
from vecbridge.schemas import (
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
    StoreUnavailableError,
    UnsupportedOperationError,
    VecbridgeError,
    WriteError,
)
from vecbridge.schemas.dates import is_datetime

logger = logging.getLogger(__name__)

MAX_TOPK = rq.MAX_TOPK
_SERVER_URI = re.compile(r"^(https?|tcp|grpc)://[^\s/]+(:\d+)?/?$")
_LITE_FILE_NAME = re.compile(r"^[a-zA-Z0-9.\-_]+$")  # milvus_lite.server.Server's own rule (and <= 36 chars)
_BAD_ID = re.compile("[" + re.escape("".join(UNSAYABLE_CHARS)) + "]")
T = TypeVar("T")


@dataclass
class _Progress:
    """What one ``upsert`` call has done so far."""

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
        return StoreUnavailableError(f"{exc}; {self.written} of {total} documents of this batch were written", self.written)

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


class MilvusConnector:
    """Milvus Lite / Milvus server behind the ``vecbridge.connectors.base.Connector`` protocol."""

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
        """Validate the settings; opens nothing (see ``client``).

        ``timeout``: seconds per store call (None: no limit). ``retry_attempts`` / ``retry_max_wait``:
        the retry budget of one call on transient errors (tries, and seconds in all)."""
        if not isinstance(uri, str) or not uri.strip():
            raise ConfigurationError(f"uri must be a local '*.db' path or http(s)://host:port, got {uri!r}")
        self._local = "://" not in uri
        if self._local:
            if not uri.endswith(".db"):
                raise ConfigurationError(f"Milvus Lite uri must be a file path ending in '.db', got {uri!r}")
            name = Path(uri).name
            if not _LITE_FILE_NAME.match(name) or len(name) > 36:
                raise ConfigurationError(
                    f"Milvus Lite file name {name!r} (uri {uri!r}) is not accepted by milvus_lite 2.5.1: "
                    "use at most 36 characters from A-Z a-z 0-9 . - _ (the folder may hold any characters)"
                )
            if not Path(uri).expanduser().absolute().parent.is_dir():
                raise ConfigurationError(f"Milvus Lite uri {uri!r}: folder {Path(uri).parent} does not exist")
            if token is not None:
                raise ConfigurationError("token is only used with a Milvus server uri, not a Milvus Lite file")
        elif not _SERVER_URI.match(uri):
            raise ConfigurationError(f"Milvus server uri must look like http(s)://host:port, got {uri!r}")
        if batch_size <= 0:
            raise ConfigurationError(f"batch_size must be > 0, got {batch_size!r}")
        if isinstance(retry_attempts, bool) or not isinstance(retry_attempts, int) or retry_attempts < 1:
            raise ConfigurationError(f"retry_attempts must be an integer >= 1, got {retry_attempts!r}")
        if not isinstance(retry_max_wait, (int, float)) or not retry_max_wait >= 0:
            raise ConfigurationError(f"retry_max_wait must be a number of seconds >= 0, got {retry_max_wait!r}")
        self.uri = str(Path(uri).expanduser()) if self._local else uri
        self._token = token if isinstance(token, SecretStr) or token is None else SecretStr(token)
        self.batch_size = batch_size
        self.timeout = timeout
        self.retry_attempts = retry_attempts
        self.retry_max_wait = float(retry_max_wait)
        self._client: Any = None
        self._caps: Optional[Capabilities] = None
        self._specs: dict[str, CollectionSpec] = {}
        self._dense_flag: dict[str, bool] = {}  # per collection: has it HAS_DENSE_FIELD (older ones do not)
        self._lock = threading.RLock()  # lazy client / capabilities / caches; never held during a store call

    def __repr__(self) -> str:  # never shows the token
        return f"MilvusConnector(uri={safe_uri(self.uri)!r}, token={'***' if self._token else None})"

    @property
    def is_local(self) -> bool:
        """True for a Milvus Lite file."""
        return self._local

    @property
    def client(self) -> Any:
        """The ``MilvusClient``, connected on first use (``ConnectorError`` if that fails)."""
        try:
            return self._connect()
        except VecbridgeError:
            raise
        except Exception as exc:
            hint = (
                f"; a Milvus Lite file is locked to one process: close the other user of {self.uri!r} "
                "(connector.close()) or serve it with milvus_lite.server (see the module docstring)"
                if self._local
                else ""
            )
            raise ConnectorError(f"cannot open Milvus at {safe_uri(self.uri)!r}: {short_error(exc)}{hint}") from exc

    def _connect(self) -> Any:
        """The client, created once under the lock; driver exceptions pass through (for retries)."""
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                from pymilvus import MilvusClient

                token = self._token.get_secret_value() if self._token else ""
                # own alias: pymilvus shares one connection per uri, and close() would drop it for all
                alias = f"vecbridge-{uuid.uuid4().hex}"
                self._client = MilvusClient(uri=self.uri, token=token, timeout=self.timeout, alias=alias)
            return self._client

    @property
    def capabilities(self) -> Capabilities:
        """What the engine supports, asked once (``calls.probe``) and cached."""
        caps = self._caps
        if caps is None:
            caps = self._call("probe capabilities", "", probe)
            with self._lock:
                self._caps = self._caps or caps
                caps = self._caps
        return caps

    # ---- errors -----------------------------------------------------------------------
    def _call(self, action: str, collection: str, fn: Callable[[Any], T]) -> T:
        """``fn(client)`` with retries on transient errors; driver errors become ``ConnectorError``s.

        A store still unreachable after the budget raises ``StoreUnavailableError`` (one line, the
        driver exception only logged at DEBUG level)."""
        started = time.monotonic()
        where = f"Milvus {action}" + (f" on {collection!r}" if collection else "")
        retry = retrying(self.retry_attempts, self.retry_max_wait, where)
        try:
            for attempt in retry:
                with attempt, quiet_driver_logs():
                    return fn(self._connect())
        except VecbridgeError:
            raise
        except Exception as exc:
            self._raise_final(action, collection, exc, retry.statistics.get("attempt_number", 1), started)
        raise AssertionError("unreachable")  # pragma: no cover

    def _raise_final(self, action: str, collection: str, exc: Exception, tries: int, started: float) -> None:
        """Raise what a driver error that survived the retries means (shared with the async connector)."""
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
            self._forget(collection)
            raise CollectionNotFoundError(f"Milvus collection {collection!r} does not exist") from exc
        where = f" on {collection!r}" if collection else ""
        raise ConnectorError(f"Milvus {action}{where} failed: {short_error(exc)}") from exc

    @contextmanager
    def _wrap(self, action: str, collection: str) -> Iterator[None]:
        """Map driver errors of the enclosed calls (no retries; prefer ``_call``)."""
        try:
            yield
        except VecbridgeError:
            raise
        except Exception as exc:
            self._raise_mapped(action, collection, exc)

    def _forget(self, collection: str) -> None:
        with self._lock:
            self._specs.pop(collection, None)
            self._dense_flag.pop(collection, None)

    # ---- collections ------------------------------------------------------------------
    def has_collection(self, name: str) -> bool:
        return bool(self._call("has_collection", name, lambda c: c.has_collection(name, **NO_DRIVER_RETRY)))

    def drop_collection(self, name: str) -> None:
        """Drop the collection and its state records."""
        self._call("drop_collection", name, lambda c: c.drop_collection(name, **NO_DRIVER_RETRY))
        if name != STATE_COLLECTION:
            self._call("drop_state", name, lambda c: state_store.drop_state(MilvusStateRecords(c), name))
        self._forget(name)

    # ---- state (connectors/state_store.py, connectors/milvus/state.py) ------------------
    def read_state(self, collection: str) -> Optional[dict[str, Any]]:
        """The state last written for ``collection`` (kept in ``vecbridge_state``), or None."""
        state_store.check_collection_name(collection, STATE_COLLECTION)
        return self._call(
            "read_state", STATE_COLLECTION, lambda c: state_store.read_state(MilvusStateRecords(c), collection)
        )

    def write_state(self, collection: str, state: dict[str, Any]) -> None:
        """Replace the state of ``collection``; readers see the old or the new one, never a mix."""
        state_store.check_collection_name(collection, STATE_COLLECTION)
        self._call(
            "write_state", STATE_COLLECTION,
            lambda c: state_store.write_state(MilvusStateRecords(c), collection, state, PART_CHARS),
        )

    # ---- the state log (append-only entries: BM25 statistic deltas; connectors/state_store.py) ----
    def append_log(self, collection: str, entry: dict[str, Any]) -> str:
        """Append an entry to ``collection``'s log; returns its version."""
        state_store.check_collection_name(collection, STATE_COLLECTION)
        return self._call("append_log", STATE_COLLECTION,
                          lambda c: state_store.append_log(MilvusStateRecords(c), collection, entry, PART_CHARS))

    def log_versions(self, collection: str) -> list[str]:
        """The versions of ``collection``'s log entries, oldest first."""
        return self._call("log_versions", STATE_COLLECTION,
                          lambda c: state_store.log_versions(MilvusStateRecords(c), collection))

    def read_log(self, collection: str, versions: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The log entries of ``versions`` that exist, by version."""
        return self._call("read_log", STATE_COLLECTION,
                          lambda c: state_store.read_log(MilvusStateRecords(c), collection, versions))

    def remove_log(self, collection: str, versions: Sequence[str]) -> None:
        """Remove log entries by version."""
        self._call("remove_log", STATE_COLLECTION,
                   lambda c: state_store.remove_log(MilvusStateRecords(c), collection, versions))

    def ensure_collection(self, spec: CollectionSpec) -> None:
        """Create and load the collection, or verify an existing one against ``spec``."""
        check_reserved(spec)
        caps = self.capabilities
        name = spec.name
        if self.has_collection(name):
            actual = self._describe(name)
            check_matches(spec, actual, caps.lite)
            flagged = bool(actual.get("has_dense_field"))
        else:
            self._create(spec, caps)
            flagged = spec.dense_dim is not None
        self._call("load_collection", name, lambda c: c.load_collection(name, **NO_DRIVER_RETRY))
        with self._lock:
            self._specs[name] = spec
            self._dense_flag[name] = flagged

    def _create(self, spec: CollectionSpec, caps: Capabilities) -> None:
        """Create ``spec``'s collection (filterable keys: typed field + presence flag on every engine)."""

        def create(client: Any) -> None:
            client.create_collection(
                spec.name,
                schema=build_schema(spec, partition_key=not caps.lite),
                index_params=build_index_params(client, spec, caps.lite),
                consistency_level="Strong",
                **NO_DRIVER_RETRY,
            )

        self._call("create_collection", spec.name, create)

    def _describe(self, name: str) -> dict[str, Any]:
        """The collection in ``CollectionSpec`` terms."""

        def describe(client: Any) -> tuple[dict[str, Any], Optional[dict[str, Any]]]:
            description = client.describe_collection(name, **NO_DRIVER_RETRY)
            indexes = client.list_indexes(name, **NO_DRIVER_RETRY)
            dense = client.describe_index(name, "dense", **NO_DRIVER_RETRY) if "dense" in indexes else None
            return description, dense

        description, dense = self._call("describe_collection", name, describe)
        return spec_from_description(name, description, dense)

    def _spec(self, name: str) -> CollectionSpec:
        spec = self._specs.get(name)
        if spec is None:
            if not self.has_collection(name):
                raise CollectionNotFoundError(f"Milvus collection {name!r} does not exist")
            actual = self._describe(name)
            spec = spec_from_actual(actual)
            self._call("load_collection", name, lambda c: c.load_collection(name, **NO_DRIVER_RETRY))
            with self._lock:
                spec = self._specs.setdefault(name, spec)
                self._dense_flag.setdefault(name, bool(actual.get("has_dense_field")))
        return spec

    def dense_flagged(self, name: str) -> bool:
        """Whether collection ``name`` marks its rows with ``HAS_DENSE_FIELD`` (collections created
        before vecbridge stored documents without a dense vector do not; every row there has one)."""
        self._spec(name)
        return self._dense_flag.get(name, False)

    # ---- writes -----------------------------------------------------------------------
    def upsert(self, collection: str, batch: IndexBatch) -> int:
        """Insert or replace by id, in chunks of ``batch_size``; returns the number written.

        Every valid row is written. Raises ``WriteError`` (``failed``: exactly the ids not written,
        with reasons; ``written``: rows acknowledged) if any row was rejected, here or by the
        server, and ``StoreUnavailableError`` (``written`` so far) if the store stays unreachable."""
        spec = self._spec(collection)
        _check_batch_vectors(spec, batch)
        lite = self.capabilities.lite
        progress = _Progress()
        rows = self._rows(spec, batch, progress.failed, lite=lite)
        for start in range(0, len(rows), self.batch_size):
            try:
                self._write_chunk(collection, rows[start : start + self.batch_size], progress)
            except StoreUnavailableError as exc:
                raise progress.unavailable(exc, len(batch)) from None
        return progress.finish(collection, len(batch))

    def _write_chunk(self, collection: str, chunk: list[dict[str, Any]], progress: _Progress) -> None:
        """Upsert ``chunk``; if the server rejects it, split it until the rejected rows are isolated."""
        try:
            result = self._call("upsert", collection, lambda c: c.upsert(collection, chunk, **NO_DRIVER_RETRY))
        except (StoreUnavailableError, CollectionNotFoundError):
            raise
        except ConnectorError as exc:
            for part in progress.split_rejected(chunk, exc):
                self._write_chunk(collection, part, progress)
            return
        progress.acknowledge(result, chunk)

    def _rows(
        self, spec: CollectionSpec, batch: IndexBatch, failed: dict[str, str], lite: bool
    ) -> list[dict[str, Any]]:
        """The storable rows of ``batch``; the others go to ``failed`` with a reason."""
        rows = []
        sparse = {name: batch.sparse[name] for name in spec.sparse_fields}
        flagged = self._dense_flag.get(spec.name, False)
        for i, doc in enumerate(batch.documents):
            row: dict[str, Any] = {"id": doc.id, "text": doc.text, "metadata": doc.metadata}
            reason = _row_problem(spec, doc, row, lite=lite)
            if not reason and batch.dense is not None and not batch.has_dense(i) and not flagged:
                reason = (f"document has no dense vector and collection {spec.name!r} was created before "
                          "vecbridge could store such documents; recreate the collection")
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

    def delete(self, collection: str, ids: Optional[Sequence[str]] = None, filter: Optional[Filter] = None) -> int:
        """Delete documents whose id is in ``ids`` or that match ``filter``; returns how many existed."""
        rq.check_delete(ids, filter)
        expr = rq.delete_expression(self._spec(collection), ids, filter, self.capabilities.lite)
        if expr is None:
            return 0
        n = self._count_expr(collection, expr)
        if n:
            self._call("delete", collection, lambda c: c.delete(collection, filter=expr, **NO_DRIVER_RETRY))
        return n

    def delete_all(self, collection: str) -> int:
        """Delete every document (the collection and its state stay); returns how many there were."""
        self._spec(collection)
        n = self._count_expr(collection, rq.ALL_ROWS)
        if n:
            self._call("delete_all", collection, lambda c: c.delete(collection, filter=rq.ALL_ROWS, **NO_DRIVER_RETRY))
        return n

    # ---- reads ------------------------------------------------------------------------
    def get(self, collection: str, ids: Sequence[str], with_vectors: bool = False) -> list[Document]:
        """Documents for the ids that exist, in the order of ``ids`` (``StoredDocument``s with
        the stored vectors when ``with_vectors``)."""
        spec = self._spec(collection)
        args = rq.get_args(spec, with_vectors, self.dense_flagged(collection))
        found: dict[str, Document] = {}
        for expr in rq.get_expressions(ids):
            rows = self._call("get", collection, lambda c: c.query(collection, filter=expr, **args))
            found.update(rq.documents(rows, spec, with_vectors))
        return [found[i] for i in ids if i in found]

    def iterate(
        self, collection: str, filter: Optional[Filter] = None, batch_size: int = 1000, with_vectors: bool = False
    ) -> Iterator[list[Document]]:
        """Every document matching ``filter`` once, in batches: pymilvus' ``query_iterator``, which
        pages by primary key (``id > last``), so a document is never returned twice even when it is
        rewritten meanwhile; documents written during the iteration may or may not be seen."""
        spec, iterator = self.open_iterator(collection, filter, batch_size, with_vectors)
        try:
            while True:
                batch = self.next_batch(collection, spec, iterator, with_vectors)
                if not batch:
                    return
                yield batch
        finally:
            self.close_iterator(iterator)

    def open_iterator(
        self, collection: str, filter: Optional[Filter], batch_size: int, with_vectors: bool
    ) -> tuple[CollectionSpec, Any]:
        """The spec and a started ``query_iterator`` (the steps of ``iterate``, shared with the async connector)."""
        spec = self._spec(collection)
        args = rq.iterator_args(spec, filter, batch_size, with_vectors, self.dense_flagged(collection))
        return spec, self._call("query_iterator", collection, lambda c: c.query_iterator(collection, **args))

    def next_batch(self, collection: str, spec: CollectionSpec, iterator: Any, with_vectors: bool) -> list[Document]:
        """The iterator's next batch as documents (empty: done)."""
        rows = self._call("iterate", collection, lambda _: iterator.next())
        return list(rq.documents(rows, spec, with_vectors).values())

    @staticmethod
    def close_iterator(iterator: Any) -> None:
        try:
            iterator.close()
        except Exception as exc:  # closing only frees client-side state
            logger.debug("closing a Milvus query iterator failed: %s", short_error(exc))

    def count(self, collection: str, filter: Optional[Filter] = None) -> int:
        return self._count_expr(collection, rq.expression(self._spec(collection), filter))

    def _count_expr(self, collection: str, expr: str) -> int:
        rows = self._call("count", collection, lambda c: c.query(collection, filter=expr, **rq.COUNT_ARGS))
        return rq.count(rows)

    # ---- search (requests and results: connectors/milvus/requests.py) ---------------------
    def search_dense(
        self, collection: str, vector: np.ndarray, k: int, filter: Optional[Filter] = None, ef: Optional[int] = None,
        *, content: bool = True,
    ) -> list[Hit]:
        request = rq.dense_search(self._spec(collection), vector, k, filter, ef, content,
                                  flagged=self.dense_flagged(collection))
        return rq.hits(self._call("search_dense", collection, lambda c: c.search(collection, **request)))

    def search_sparse(
        self,
        collection: str,
        vector: SparseVector,
        k: int,
        filter: Optional[Filter] = None,
        field: str = "sparse",
        *,
        content: bool = True,
    ) -> list[Hit]:
        request = rq.sparse_search(self._spec(collection), vector, k, filter, field, content)
        if request is None:
            return []
        return rq.hits(self._call("search_sparse", collection, lambda c: c.search(collection, **request)))

    def search_text(
        self, collection: str, text: str, k: int, filter: Optional[Filter] = None, *, content: bool = True
    ) -> list[Hit]:
        """Milvus full-text search: BM25 (k1 1.2, b 0.75, statistics kept by the server) of ``text``
        against the analyzed ``text`` field; needs a collection created with ``spec.text_analyzer``."""
        request = rq.text_search(self._spec(collection), text, k, filter, content)
        if request is None:
            return []
        return rq.hits(self._call("search_text", collection, lambda c: c.search(collection, **request)))

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
        request = rq.hybrid_search(
            self._spec(collection), dense, sparse, k, filter, rrf_k, window, self.dense_flagged(collection)
        )
        if request is None:
            return []
        return rq.hits(
            self._call("search_hybrid_native", collection, lambda c: c.hybrid_search(collection, **request))
        )

    # ---- lifecycle --------------------------------------------------------------------
    def close(self) -> None:
        """Close the client and, for a Lite file, stop its embedded server (releasing the file lock)."""
        with self._lock:
            client, self._client = self._client, None
            self._caps = None
            self._specs.clear()
            self._dense_flag.clear()
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
