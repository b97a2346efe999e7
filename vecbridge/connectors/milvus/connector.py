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
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Optional, TypeVar, Union

import numpy as np
from pydantic import SecretStr

from vecbridge.connectors import state_store
from vecbridge.connectors.milvus import answers, lite, requests as rq
from vecbridge.connectors.milvus.calls import (
    NO_DRIVER_RETRY,
    Capabilities,
    probe,
    quiet_driver_logs,
    retrying,
    safe_uri,
    short_error,
)
from vecbridge.connectors.milvus.common import MilvusCommon, Progress, check_batch_vectors
from vecbridge.connectors.milvus.lite import import_milvus_lite
from vecbridge.connectors.milvus.schema import (
    build_index_params,
    build_schema,
    check_matches,
    check_reserved,
    spec_from_actual,
    spec_from_description,
)
from vecbridge.connectors.milvus.state import PART_CHARS, STATE_COLLECTION, MilvusStateRecords
from vecbridge.schemas import (
    CollectionNotFoundError,
    CollectionSpec,
    ConnectorError,
    Document,
    Filter,
    Hit,
    IndexBatch,
    SparseVector,
    StoreUnavailableError,
    VecbridgeError,
)

logger = logging.getLogger(__name__)

MAX_TOPK = rq.MAX_TOPK
T = TypeVar("T")


class MilvusConnector(MilvusCommon):
    """Milvus Lite / Milvus server behind the ``vecbridge.connectors.base.Connector`` protocol
    (settings, caches, error mapping and rows: ``MilvusCommon``). Searches read their answers
    column by column (``answers``), never as one dict per returned row."""

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
        super().__init__(
            uri,
            token,
            batch_size=batch_size,
            timeout=timeout,
            retry_attempts=retry_attempts,
            retry_max_wait=retry_max_wait,
        )
        self._client: Any = None
        self._caps: Optional[Capabilities] = None

    @property
    def connected(self) -> bool:
        """Whether the client has been created (``client``) and not closed since."""
        return self._client is not None

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

                if self._local:
                    import_milvus_lite()

                token = self._token.get_secret_value() if self._token else ""
                # own alias: pymilvus shares one connection per uri, and close() would drop it for all
                alias = f"vecbridge-{uuid.uuid4().hex}"
                connect = lambda: MilvusClient(uri=self.uri, token=token, timeout=self.timeout, alias=alias)  # noqa: E731
                self._client = lite.opened(self.uri, connect) if self._local else connect()
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

    # ---- store calls ------------------------------------------------------------------
    def _call(self, action: str, collection: str, fn: Callable[[Any], T]) -> T:
        """``fn(client)`` with retries on transient errors; driver errors become ``ConnectorError``s.

        A store still unreachable after the budget raises ``StoreUnavailableError`` (one line, the
        driver exception only logged at DEBUG level)."""
        started = time.monotonic()
        failed: Optional[Exception] = None
        try:  # most calls succeed at once: the retry policy is built only after a failure
            with quiet_driver_logs():
                return fn(self._connect())
        except VecbridgeError:
            raise
        except Exception as exc:
            failed = exc
        where = f"Milvus {action}" + (f" on {collection!r}" if collection else "")
        retry = retrying(self.retry_attempts, max(0.0, self.retry_max_wait - (time.monotonic() - started)), where)
        try:
            for attempt in retry:
                with attempt, quiet_driver_logs():
                    if failed is not None:  # the first try, already made: same counts, waits and logs
                        first, failed = failed, None
                        raise first
                    return fn(self._connect())
        except VecbridgeError:
            raise
        except Exception as exc:
            self._raise_final(action, collection, exc, retry.statistics.get("attempt_number", 1), started)
        raise AssertionError("unreachable")  # pragma: no cover

    # ---- collections ------------------------------------------------------------------
    def has_collection(self, name: str) -> bool:
        if self._local and self._client is None and not Path(self.uri).exists():
            return False  # opening a Lite client would create the file
        return bool(self._call("has_collection", name, lambda c: c.has_collection(name, **NO_DRIVER_RETRY)))

    def drop_collection(self, name: str) -> None:
        """Drop the collection and its state records."""
        self._call("drop_collection", name, lambda c: c.drop_collection(name, **NO_DRIVER_RETRY))
        if name != STATE_COLLECTION:
            self._call("drop_state", name, lambda c: state_store.drop_state(MilvusStateRecords(c), name))
        self.forget(name)

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
            "write_state",
            STATE_COLLECTION,
            lambda c: state_store.write_state(MilvusStateRecords(c), collection, state, PART_CHARS),
        )

    # ---- the state log (append-only entries: BM25 statistic deltas; connectors/state_store.py) ----
    def append_log(self, collection: str, entry: dict[str, Any]) -> str:
        """Append an entry to ``collection``'s log; returns its version."""
        state_store.check_collection_name(collection, STATE_COLLECTION)
        return self._call(
            "append_log",
            STATE_COLLECTION,
            lambda c: state_store.append_log(MilvusStateRecords(c), collection, entry, PART_CHARS),
        )

    def log_versions(self, collection: str) -> list[str]:
        """The versions of ``collection``'s log entries, oldest first."""
        return self._call(
            "log_versions", STATE_COLLECTION, lambda c: state_store.log_versions(MilvusStateRecords(c), collection)
        )

    def read_log(self, collection: str, versions: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The log entries of ``versions`` that exist, by version."""
        return self._call(
            "read_log", STATE_COLLECTION, lambda c: state_store.read_log(MilvusStateRecords(c), collection, versions)
        )

    def remove_log(self, collection: str, versions: Sequence[str]) -> None:
        """Remove log entries by version."""
        self._call(
            "remove_log",
            STATE_COLLECTION,
            lambda c: state_store.remove_log(MilvusStateRecords(c), collection, versions),
        )

    def ensure_collection(self, spec: CollectionSpec) -> None:
        """Create and load the collection, or verify an existing one against ``spec``."""
        check_reserved(spec)
        caps = self.capabilities
        name = spec.name
        if self.has_collection(name):
            actual = self._describe(name)
            check_matches(spec, actual, caps.lite)
            flagged, typed_meta = bool(actual.get("has_dense_field")), bool(actual.get("has_meta_types"))
        else:
            self._create(spec, caps)
            flagged, typed_meta = spec.dense_dim is not None, True
        self._call("load_collection", name, lambda c: c.load_collection(name, **NO_DRIVER_RETRY))
        with self._lock:
            self._specs[name] = spec
            self._dense_flag[name] = flagged
            self._typed_meta[name] = typed_meta

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
            spec = self.remember(spec, bool(actual.get("has_dense_field")), bool(actual.get("has_meta_types")))
        return spec

    def collection_info(self, name: str) -> tuple[CollectionSpec, bool, bool]:
        """The spec of collection ``name``, whether its rows carry ``HAS_DENSE_FIELD`` and whether they
        carry ``META_TYPES_FIELD`` (looked up and loaded once, then cached; ``CollectionNotFoundError``
        if it does not exist)."""
        spec = self._spec(name)
        return spec, self.dense_flagged(name), self._typed_meta.get(name, True)

    def dense_flagged(self, name: str) -> bool:
        """Whether collection ``name`` marks its rows with ``HAS_DENSE_FIELD`` (collections created
        before vecbridge stored documents without a dense vector do not; every row there has one)."""
        self._spec(name)
        return self.cached_flag(name)

    # ---- writes -----------------------------------------------------------------------
    def upsert(self, collection: str, batch: IndexBatch) -> int:
        """Insert or replace by id, in chunks of ``batch_size``; returns the number written.

        Every valid row is written. Raises ``WriteError`` (``failed``: exactly the ids not written,
        with reasons; ``written``: rows acknowledged) if any row was rejected, here or by the
        server, and ``StoreUnavailableError`` (``written`` so far) if the store stays unreachable."""
        spec = self._spec(collection)
        check_batch_vectors(spec, batch)
        lite = self.capabilities.lite
        progress = Progress()
        rows = self._rows(spec, batch, progress.failed, lite=lite)
        for start in range(0, len(rows), self.batch_size):
            try:
                self._write_chunk(collection, rows[start : start + self.batch_size], progress)
            except StoreUnavailableError as exc:
                raise progress.unavailable(exc, len(batch)) from None
        return progress.finish(collection, len(batch))

    def _write_chunk(self, collection: str, chunk: list[dict[str, Any]], progress: Progress) -> None:
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

            def query(c: Any, expr: str = expr) -> Any:
                return c.query(collection, filter=expr, **args)

            rows = self._call("get", collection, query)
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
        self,
        collection: str,
        vector: np.ndarray,
        k: int,
        filter: Optional[Filter] = None,
        ef: Optional[int] = None,
        *,
        content: bool = True,
    ) -> Sequence[Hit]:
        request = rq.dense_search(
            self._spec(collection), vector, k, filter, ef, content, flagged=self.dense_flagged(collection)
        )
        return self._search("search_dense", collection, request, content)[0]

    def search_sparse(
        self,
        collection: str,
        vector: SparseVector,
        k: int,
        filter: Optional[Filter] = None,
        field: str = "sparse",
        *,
        content: bool = True,
    ) -> Sequence[Hit]:
        request = rq.sparse_search(self._spec(collection), vector, k, filter, field, content)
        if request is None:
            return []
        return self._search("search_sparse", collection, request, content)[0]

    def search_dense_many(
        self,
        collection: str,
        vectors: Sequence[np.ndarray],
        k: int,
        filter: Optional[Filter] = None,
        ef: Optional[int] = None,
        *,
        content: bool = True,
    ) -> list[Sequence[Hit]]:
        """``search_dense`` for each of ``vectors`` (same ``k``, filter and ``ef``), in one Milvus search."""
        flagged = self.dense_flagged(collection) if len(vectors) else False
        request = rq.dense_search_many(self._spec(collection), vectors, k, filter, ef, content, flagged)
        if request is None:
            return []
        return self._search("search_dense", collection, request, content, len(vectors))

    def search_sparse_many(
        self,
        collection: str,
        vectors: Sequence[SparseVector],
        k: int,
        filter: Optional[Filter] = None,
        field: str = "sparse",
        *,
        content: bool = True,
    ) -> list[Sequence[Hit]]:
        """``search_sparse`` for each of ``vectors`` in one Milvus search (an empty vector finds nothing)."""
        asked, request = rq.sparse_search_many(self._spec(collection), vectors, k, filter, field, content)
        if request is None:
            return [[] for _ in vectors]
        return rq.placed(asked, len(vectors), self._search("search_sparse", collection, request, content, len(asked)))

    def search_text(
        self, collection: str, text: str, k: int, filter: Optional[Filter] = None, *, content: bool = True
    ) -> Sequence[Hit]:
        """Milvus full-text search: BM25 (k1 1.2, b 0.75, statistics kept by the server) of ``text``
        against the analyzed ``text`` field; needs a collection created with ``spec.text_analyzer``."""
        request = rq.text_search(self._spec(collection), text, k, filter, content)
        if request is None:
            return []
        return self._search("search_text", collection, request, content)[0]

    def _search(
        self, action: str, collection: str, request: dict[str, Any], content: bool, queries: int = 1
    ) -> list[Sequence[Hit]]:
        """Each query's hits of one search call, read by column from the answer message (``answers``)."""
        answer = self._call(action, collection, lambda c: answers.search_answer(c, collection, request))
        return answers.answer_hits(answer, content, queries)

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
        answer = self._call("search_hybrid_native", collection, lambda c: c.hybrid_search(collection, **request))
        return list(rq.hits(answer))

    # ---- lifecycle --------------------------------------------------------------------
    def close(self) -> None:
        """Close the client; for a Lite file, stop its embedded server (releasing the file lock) when no
        other connector of this process still uses the file (``lite``)."""
        with self._lock:
            client, self._client = self._client, None
            self._caps = None
            self._specs.clear()
            self._dense_flag.clear()
            self._typed_meta.clear()
        if client is None:
            return
        try:
            client.close()
        finally:
            if self._local:
                lite.closed(self.uri)

    def __enter__(self) -> MilvusConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
