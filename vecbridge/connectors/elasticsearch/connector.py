"""``ElasticsearchConnector``: the ``Connector`` protocol on the official client, for ES 8.x.

Client rule: ``elasticsearch>=8.15,<9`` for 8.x servers (a 9.x client sends ``Accept`` version 9,
which an 8.x server rejects with "Accept version must be either version 8 or 7").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Optional, TypeVar

import numpy as np
from elasticsearch import (
    ApiError,
    ConnectionError as ESConnectionError,
    ConnectionTimeout,
    Elasticsearch,
    NotFoundError,
    TransportError,
)

from vecbridge.connectors import state_store
from vecbridge.connectors.elasticsearch import mapping as mp, queries as q
from vecbridge.connectors.elasticsearch.bulk import bulk_index, describe_failure, host_of, retry_request
from vecbridge.connectors.elasticsearch.config import ElasticsearchConfig, NativeHybrid, RefreshPolicy
from vecbridge.connectors.elasticsearch.filters import compile_filter
from vecbridge.connectors.elasticsearch.state import PART_CHARS, STATE_INDEX, ElasticsearchStateRecords
from vecbridge.schemas import (
    CollectionMismatchError,
    CollectionNotFoundError,
    CollectionSpec,
    ConfigurationError,
    ConnectorError,
    Document,
    Filter,
    Hit,
    IndexBatch,
    Settings,
    SparseVector,
    StoredDocument,
    StoreUnavailableError,
    UnsupportedOperationError,
    WriteError,
    bare_hit,
    validate_filter,
)
from vecbridge.schemas.arguments import check_ids

T = TypeVar("T")

log = logging.getLogger(__name__)
RRF_LICENCES = frozenset({"enterprise", "trial", "platinum"})
PIT_KEEP_ALIVE = "2m"
"""How long a point in time of ``iterate`` stays open between two pages."""


class ElasticsearchCommon:
    """What ``ElasticsearchConnector`` and ``AsyncElasticsearchConnector`` share: settings, error
    mapping, and every request body and response conversion (pure; the subclasses only send)."""

    SEARCH_WITHOUT_CONTENT = True  # searches take content=False: ids and scores only (_source: false)

    def __init__(self, config: Optional[ElasticsearchConfig] = None, **options: Any):
        if config is not None and options:
            raise ConfigurationError(f"give a config or keyword options, not both (got {sorted(options)})")
        self.config = config if config is not None else ElasticsearchConfig(**options)
        self._specs: dict[str, CollectionSpec] = {}
        self._licence_allows_rrf: Optional[bool] = None

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Any:
        """A connector configured from ``VECBRIDGE_ES_*`` settings (``ElasticsearchConfig.from_settings``)."""
        return cls(ElasticsearchConfig.from_settings(settings, **overrides))

    def __repr__(self) -> str:
        auth = "api_key" if self.config.api_key else ("basic" if self.config.username else "none")
        return f"{type(self).__name__}(url={self.config.display_url!r}, auth={auth})"

    client: Any  # the driver client of the subclass

    # ---- errors ---------------------------------------------------------------------------
    @contextmanager
    def _errors(self, action: str, collection: Optional[str] = None) -> Iterator[None]:
        """Wrap driver exceptions in ``ConnectorError`` subclasses (around sync calls and awaits)."""
        try:
            yield
        except NotFoundError as exc:
            if exc.error == "index_not_found_exception" and collection is not None:
                raise CollectionNotFoundError(f"index {collection!r} does not exist ({action})") from exc
            raise ConnectorError(f"{action} failed: {exc}") from exc
        except (ESConnectionError, ConnectionTimeout) as exc:
            where = f" on index {collection!r}" if collection else ""
            raise StoreUnavailableError(
                f"Elasticsearch at {host_of(self.client)} unavailable: {action}{where} failed ({describe_failure(exc)})"
            ) from None
        except (ApiError, TransportError) as exc:
            where = f" on index {collection!r}" if collection else ""
            raise ConnectorError(f"{action}{where} failed: {exc}") from exc

    # ---- collections ------------------------------------------------------------------------
    @staticmethod
    def _check_mapping(spec: CollectionSpec, expected: dict[str, Any], actual: dict[str, Any]) -> None:
        diffs = mp.mapping_differences(expected, actual)
        if diffs:
            raise CollectionMismatchError(f"index {spec.name!r} exists with a different mapping: " + "; ".join(diffs))

    def _remember_mapping(self, collection: str, mapping: dict[str, Any]) -> CollectionSpec:
        spec = mp.spec_from_mapping(mapping)
        if spec is None:
            raise CollectionMismatchError(
                f"index {collection!r} was not created by vecbridge (no _meta.{mp.META_KEY}.spec in its mapping)"
            )
        return self._specs.setdefault(collection, spec)

    @staticmethod
    def _validated(spec: CollectionSpec, filter: Optional[Filter]) -> Optional[Filter]:
        return None if filter is None else validate_filter(filter, spec)

    # ---- writes -----------------------------------------------------------------------------
    def _bulk_options(self) -> dict[str, Any]:
        return dict(
            chunk_size=self.config.chunk_size,
            refresh="wait_for" if self.config.refresh is RefreshPolicy.WAIT_FOR else "false",
            max_attempts=self.config.max_attempts,
            initial_backoff=self.config.initial_backoff,
            max_backoff=self.config.max_backoff,
            max_wait=self.config.retry_max_wait,
        )

    def _retry_budget(self) -> dict[str, Any]:
        """The bulk writes' retry budget, for single requests (the refresh after a bulk: a store blip
        between a bulk and its refresh must not fail a write the budget would have carried)."""
        c = self.config
        return dict(
            max_attempts=c.max_attempts,
            initial_backoff=c.initial_backoff,
            max_backoff=c.max_backoff,
            max_wait=c.retry_max_wait,
        )

    def _sources(self, spec: CollectionSpec, batch: IndexBatch) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """The ``_source`` of each storable document, and ``{id: reason}`` of the others."""
        self._check_batch(spec, batch)
        similarity = mp.similarity(spec, self.config) if spec.dense_dim is not None else None
        failed: dict[str, str] = {}
        sources: dict[str, dict[str, Any]] = {}
        for row, (doc_id, source) in enumerate(mp.iter_sources(batch)):
            doc = batch.documents[row]
            problem = mp.document_problem(doc.metadata, doc.text, spec)
            if problem is None and similarity == "dot_product" and batch.dense is not None and batch.has_dense(row):
                problem = mp.unit_length_problem(batch.dense[row])
            if problem is None:
                sources[doc_id] = source
            else:
                failed[doc_id] = problem
        return sources, failed

    @staticmethod
    def _upserted(collection: str, batch: IndexBatch, failed: dict[str, str], written: int) -> int:
        """``written``, or ``WriteError`` naming exactly the ids not written."""
        if failed:
            if any("index_not_found_exception" in reason for reason in failed.values()):
                raise CollectionNotFoundError(f"index {collection!r} does not exist (upsert)")
            sample = dict(list(failed.items())[:3])
            raise WriteError(
                f"{len(failed)} of {len(batch)} documents not written to {collection!r} ({written} written): {sample}",
                failed,
                written,
            )
        return written

    @staticmethod
    def _refresh_failed(exc: StoreUnavailableError, written: int) -> StoreUnavailableError:
        return StoreUnavailableError(f"{exc}; {written} documents were written", written)

    def _check_batch(self, spec: CollectionSpec, batch: IndexBatch) -> None:
        if batch.dense is not None:
            if spec.dense_dim is None:
                raise ConfigurationError(f"collection {spec.name!r} has no dense field but the batch has dense vectors")
            if batch.dense.shape[1] != spec.dense_dim:
                raise ConfigurationError(
                    f"dense dim {batch.dense.shape[1]} does not match collection {spec.name!r} "
                    f"dense_dim={spec.dense_dim}"
                )
        unknown = sorted(set(batch.sparse) - set(spec.sparse_fields))
        if unknown:
            raise ConfigurationError(
                f"sparse fields {unknown} are not in collection {spec.name!r} {spec.sparse_fields}"
            )

    def _delete_request(
        self, collection: str, spec: CollectionSpec, ids: Optional[Sequence[str]], filter: Optional[Filter]
    ) -> Optional[dict[str, Any]]:
        """Keyword arguments of ``delete_by_query`` (``None``: nothing to delete)."""
        flt = self._validated(spec, filter)
        should: list[dict[str, Any]] = []
        if ids is not None and check_ids(ids):  # a bare "h1" is refused, not read as "h", "1"
            should.append({"ids": {"values": list(ids)}})
        if flt is not None:
            should.append(compile_filter(flt))
        if not should:
            return None
        return dict(
            index=collection,
            query={"bool": {"should": should, "minimum_should_match": 1}},
            refresh=self.config.refresh is not RefreshPolicy.NONE,
            conflicts="proceed",
        )

    @staticmethod
    def _deleted(collection: str, resp: Any) -> int:
        if resp.get("failures"):
            raise ConnectorError(f"delete on {collection!r} had failures: {resp['failures'][:3]}")
        return int(resp["deleted"])

    def _delete_all_request(self, collection: str) -> dict[str, Any]:
        return dict(
            index=collection,
            query={"match_all": {}},
            refresh=self.config.refresh is not RefreshPolicy.NONE,
            conflicts="proceed",
        )

    # ---- reads ------------------------------------------------------------------------------
    @staticmethod
    def _source_fields(spec: CollectionSpec, with_vectors: bool) -> list[str]:
        if not with_vectors:
            return q.SOURCE_FIELDS
        return [*q.SOURCE_FIELDS, *([mp.DENSE_FIELD] if spec.dense_dim is not None else []), *spec.sparse_fields]

    @staticmethod
    def _document(doc_id: str, source: dict[str, Any], spec: CollectionSpec, with_vectors: bool) -> Document:
        """A ``Document`` (``StoredDocument`` with ``with_vectors``) from a ``_source``."""
        text, metadata = source.get("text", ""), source.get("metadata") or {}
        if not with_vectors:
            return Document(id=doc_id, text=text, metadata=metadata)
        dense = source.get(mp.DENSE_FIELD) if spec.dense_dim is not None else None
        sparse = {name: SparseVector.from_dict(source[name]) for name in spec.sparse_fields if source.get(name)}
        return StoredDocument(
            id=doc_id,
            text=text,
            metadata=metadata,
            dense=None if dense is None else [float(x) for x in dense],
            sparse=sparse,
        )

    def _documents(self, resp: Any, spec: CollectionSpec, with_vectors: bool) -> list[Document]:
        return [self._document(d["_id"], d["_source"], spec, with_vectors) for d in resp["docs"] if d.get("found")]

    def _get_request(
        self, collection: str, spec: CollectionSpec, ids: Sequence[str], with_vectors: bool
    ) -> dict[str, Any]:
        return dict(index=collection, ids=list(ids), source_includes=self._source_fields(spec, with_vectors))

    # ---- iterate: point in time + search_after, sorted by the id keyword --------------------
    def _iterate_body(
        self, spec: CollectionSpec, filter: Optional[Filter], batch_size: int, with_vectors: bool
    ) -> dict[str, Any]:
        """The search arguments every page of ``iterate`` shares (validated)."""
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or not 1 <= batch_size <= q.MAX_RESULT_WINDOW
        ):
            raise ConfigurationError(
                f"batch_size must be an integer in [1, {q.MAX_RESULT_WINDOW}] (Elasticsearch result window), "
                f"got {batch_size!r}"
            )
        return dict(
            query=self._count_query(spec, filter),
            size=int(batch_size),
            sort=[{"id": "asc"}],
            source_includes=self._source_fields(spec, with_vectors),
            track_total_hits=False,
        )

    @staticmethod
    def _page_request(
        collection: str, body: dict[str, Any], pit: Optional[str], after: Optional[list[Any]]
    ) -> dict[str, Any]:
        request = dict(body)
        if pit is None:
            request["index"] = collection
        else:
            request["pit"] = {"id": pit, "keep_alive": PIT_KEEP_ALIVE}
        if after is not None:
            request["search_after"] = after
        return request

    def _page(
        self, resp: Any, spec: CollectionSpec, with_vectors: bool, pit: Optional[str]
    ) -> tuple[list[Document], Optional[list[Any]], Optional[str]]:
        """A page's documents, the ``search_after`` of the next page (None: this was the last) and the PIT id."""
        hits = resp["hits"]["hits"]
        docs = [self._document(h["_id"], h.get("_source") or {}, spec, with_vectors) for h in hits]
        after = hits[-1]["sort"] if hits else None
        return docs, after, resp.get("pit_id", pit) if pit is not None else None

    @staticmethod
    def _without_pit(collection: str, exc: ConnectorError) -> None:
        """Re-raise what is not a refused point in time; else fall back to ``search_after`` on the
        unique ``id`` keyword alone (no snapshot, but still each document once: ids only grow)."""
        if not isinstance(exc.__cause__, ApiError) or isinstance(exc, CollectionNotFoundError):
            raise exc
        log.info("point in time unavailable on %r (%s): iterating with search_after on id alone", collection, exc)

    def _count_query(self, spec: CollectionSpec, filter: Optional[Filter]) -> dict[str, Any]:
        flt = self._validated(spec, filter)
        return {"match_all": {}} if flt is None else {"bool": {"filter": [compile_filter(flt)]}}

    # ---- searches: (keyword arguments of client.search, conversion of its response) -----------
    @staticmethod
    def _check_k(k: int) -> None:
        if not 0 < k <= q.MAX_RESULT_WINDOW:
            raise UnsupportedOperationError(f"k={k} outside 1..{q.MAX_RESULT_WINDOW} (Elasticsearch result window)")

    def _hits(self, resp: Any, convert: Optional[str] = None) -> list[Hit]:
        hits = []
        for h in resp["hits"]["hits"]:
            score = float(h["_score"])
            score = q.raw_dense_score(score, convert) if convert else score
            source = h.get("_source")
            if not source:  # ids and scores only (content=False)
                hits.append(bare_hit(str(h["_id"]), score))
                continue
            hits.append(
                Hit(
                    id=h["_id"],
                    score=score,
                    text=source.get("text", ""),
                    metadata=source.get("metadata") or {},
                )
            )
        return hits

    def _dense_many(
        self,
        collection: str,
        spec: CollectionSpec,
        vectors: Sequence[np.ndarray],
        k: int,
        filter: Optional[Filter],
        ef: Optional[int],
        content: bool,
    ) -> tuple[list[dict[str, Any]], Callable[[Any], list[Sequence[Hit]]]]:
        """(``msearch`` lines, their answer -> each vector's hits) of ``search_dense_many``."""
        built = [self._dense_search(collection, spec, v, k, filter, ef, content) for v in vectors]

        def finish(resp: Any) -> list[Sequence[Hit]]:
            answers = q.msearch_responses(resp, len(built))
            return [done(answer) for (_, done), answer in zip(built, answers, strict=True)]

        return q.msearch_lines([request for request, _ in built]), finish

    def _sparse_many(
        self,
        collection: str,
        spec: CollectionSpec,
        vectors: Sequence[SparseVector],
        k: int,
        filter: Optional[Filter],
        field: str,
        content: bool,
    ) -> tuple[list[dict[str, Any]], Callable[[Any], list[Sequence[Hit]]]]:
        """(``msearch`` lines, their answer -> each vector's hits) of ``search_sparse_many``; an
        empty vector finds nothing (and is not sent)."""
        built = [self._sparse_search(collection, spec, v, k, filter, field, content) for v in vectors]
        asked = [i for i, request in enumerate(built) if request is not None]

        def finish(resp: Any) -> list[Sequence[Hit]]:
            out: list[Sequence[Hit]] = [[] for _ in vectors]
            for i, answer in zip(asked, q.msearch_responses(resp, len(asked)), strict=True):
                out[i] = self._hits(answer)
            return out

        return q.msearch_lines([built[i] for i in asked]), finish  # type: ignore[misc]

    @staticmethod
    def _source(content: bool) -> dict[str, Any]:
        """The search keyword choosing what each hit returns: text and metadata, or nothing."""
        return {"source_includes": q.SOURCE_FIELDS} if content else {"source": False}

    def _dense_search(
        self,
        collection: str,
        spec: CollectionSpec,
        vector: np.ndarray,
        k: int,
        filter: Optional[Filter],
        ef: Optional[int] = None,
        content: bool = True,
    ) -> tuple[dict[str, Any], Callable[[Any], list[Hit]]]:
        flt = self._validated(spec, filter)
        self._check_k(k)
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if spec.dense_dim is None:
            raise UnsupportedOperationError(f"collection {collection!r} has no dense field")
        if vector.shape[0] != spec.dense_dim:
            raise ConfigurationError(f"query vector dim {vector.shape[0]} != collection dense_dim {spec.dense_dim}")
        similarity = mp.similarity(spec, self.config)
        vector, scale = self._query_vector(vector, similarity)
        knn = q.knn_clause(vector, k, self.config.num_candidates_factor, flt, ef)

        def finish(resp: Any) -> list[Hit]:
            hits = self._hits(resp, convert=similarity)
            for hit in hits:
                hit.score *= scale
            return hits

        return dict(index=collection, knn=knn, size=k, **self._source(content)), finish

    @staticmethod
    def _query_vector(vector: np.ndarray, similarity: str) -> tuple[np.ndarray, float]:
        """``dot_product`` needs a unit query (ES rejects others): send ``v / |v|``, scale scores by ``|v|``."""
        if similarity != "dot_product":
            return vector, 1.0
        norm = float(np.linalg.norm(vector.astype(np.float64)))
        if norm == 0.0:
            raise ConfigurationError("query vector is all zeros; dot_product similarity needs a non-zero vector")
        return (vector / norm).astype(np.float32), norm

    def _sparse_search(
        self,
        collection: str,
        spec: CollectionSpec,
        vector: SparseVector,
        k: int,
        filter: Optional[Filter],
        field: str,
        content: bool = True,
    ) -> Optional[dict[str, Any]]:
        flt = self._validated(spec, filter)
        self._check_k(k)
        if field not in spec.sparse_fields:
            raise ConfigurationError(f"sparse field {field!r} is not in collection {collection!r} {spec.sparse_fields}")
        if len(vector) == 0:
            return None
        return dict(index=collection, query=q.sparse_query(field, vector, flt), size=k, **self._source(content))

    def _text_search(
        self, collection: str, spec: CollectionSpec, text: str, k: int, filter: Optional[Filter], content: bool = True
    ) -> dict[str, Any]:
        flt = self._validated(spec, filter)
        self._check_k(k)
        return dict(index=collection, query=q.text_query(text, flt), size=k, **self._source(content))

    # ---- native hybrid ----------------------------------------------------------------------
    def _licence_from(self, info: Any) -> bool:
        return info.get("status") == "active" and info.get("type") in RRF_LICENCES

    def _check_native(self, rrf_k: float) -> None:
        """Raise unless the mode (and the licence, already asked for in ``AUTO``) allows the rrf retriever."""
        mode = self.config.native_hybrid
        if mode is NativeHybrid.NEVER or (mode is NativeHybrid.AUTO and not self._licence_allows_rrf):
            raise UnsupportedOperationError(
                f"server-side RRF unavailable (native_hybrid={mode.value}, licence allows rrf: "
                f"{self._licence_allows_rrf}); fuse client-side"
            )
        if float(rrf_k) != int(rrf_k) or rrf_k < 1:
            raise UnsupportedOperationError(f"Elasticsearch rank_constant must be an integer >= 1, got rrf_k={rrf_k}")

    def _native_search(
        self,
        collection: str,
        spec: CollectionSpec,
        dense: Optional[np.ndarray],
        sparse: dict[str, SparseVector],
        k: int,
        filter: Optional[Filter],
        rrf_k: float,
        window: int,
    ) -> dict[str, Any]:
        flt = self._validated(spec, filter)
        self._check_k(k)
        window = max(window, k)
        dense_clause = None
        if dense is not None:
            vector = np.asarray(dense, dtype=np.float32).reshape(-1)
            if spec.dense_dim is None or vector.shape[0] != spec.dense_dim:
                raise ConfigurationError(f"query vector dim {vector.shape[0]} != collection dense_dim {spec.dense_dim}")
            vector, _ = self._query_vector(vector, mp.similarity(spec, self.config))
            dense_clause = q.knn_clause(vector, window, self.config.num_candidates_factor, flt)
        sparse_queries = {}
        for field, sparse_vector in sparse.items():
            if field not in spec.sparse_fields:
                raise ConfigurationError(f"sparse field {field!r} is not in collection {collection!r}")
            if len(sparse_vector):
                sparse_queries[field] = q.sparse_query(field, sparse_vector, flt)
        if (dense_clause is not None) + len(sparse_queries) < 2:
            raise UnsupportedOperationError("the rrf retriever needs at least two non-empty retrievers")
        retriever = q.rrf_retriever(dense_clause, sparse_queries, int(rrf_k), window)
        return dict(index=collection, retriever=retriever, size=k, source_includes=q.SOURCE_FIELDS)

    @contextmanager
    def _native_errors(self, collection: str) -> Iterator[None]:
        """``_errors``, plus: a 403 (licence) is ``UnsupportedOperationError`` and remembered."""
        try:
            with self._errors("search_hybrid_native", collection):
                yield
        except ConnectorError as exc:
            cause = exc.__cause__
            if isinstance(cause, ApiError) and cause.meta.status == 403:
                self._licence_allows_rrf = False
                raise UnsupportedOperationError(f"server refused the rrf retriever (403, licence): {cause}") from cause
            raise


class ElasticsearchConnector(ElasticsearchCommon):
    """Vector store on Elasticsearch 8.x: knn (dense_vector), rank_feature (learned sparse), BM25.

    ``__init__`` only validates; the client is created on first use (``client``), so building a
    connector never opens a connection. ``Hit.score`` is the raw similarity (see
    ``queries.raw_dense_score``), the sparse inner product, or the BM25 score.
    """

    def __init__(self, config: Optional[ElasticsearchConfig] = None, **options: Any):
        super().__init__(config, **options)
        self._client: Optional[Elasticsearch] = None
        self._client_lock = threading.Lock()  # lazy creation only; requests run concurrently

    @property
    def client(self) -> Elasticsearch:
        """The ``Elasticsearch`` client, created on first access."""
        client = self._client
        if client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = Elasticsearch(**self.config.client_kwargs())
                client = self._client
        return client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # ---- collections ------------------------------------------------------------------------
    def ensure_collection(self, spec: CollectionSpec) -> None:
        expected = mp.build_mapping(spec, self.config)
        with self._errors("ensure_collection", spec.name):
            if not self.client.indices.exists(index=spec.name):
                try:
                    self.client.indices.create(index=spec.name, mappings=expected)
                except ApiError as exc:
                    if exc.error != "resource_already_exists_exception":
                        raise
                else:
                    self._specs[spec.name] = spec
                    return
            actual = self.client.indices.get_mapping(index=spec.name)[spec.name]["mappings"]
        self._check_mapping(spec, expected, actual)
        self._specs[spec.name] = spec

    def has_collection(self, name: str) -> bool:
        with self._errors("has_collection", name):
            return bool(self.client.indices.exists(index=name))

    def drop_collection(self, name: str) -> None:
        """Delete the index and its state records."""
        with self._errors("drop_collection", name):
            self.client.indices.delete(index=name, ignore_unavailable=True)
            if name != STATE_INDEX:
                state_store.drop_state(ElasticsearchStateRecords(self.client), name)
        self._specs.pop(name, None)

    # ---- state (connectors/state_store.py, connectors/elasticsearch/state.py) ----------------
    def read_state(self, collection: str) -> Optional[dict[str, Any]]:
        """The state last written for ``collection`` (kept in the ``vecbridge-state`` index), or None."""
        state_store.check_collection_name(collection, STATE_INDEX)
        with self._errors("read_state", STATE_INDEX):
            return state_store.read_state(ElasticsearchStateRecords(self.client), collection)

    def write_state(self, collection: str, state: dict[str, Any]) -> None:
        """Replace the state of ``collection``; readers see the old or the new one, never a mix."""
        state_store.check_collection_name(collection, STATE_INDEX)
        with self._errors("write_state", STATE_INDEX):
            state_store.write_state(ElasticsearchStateRecords(self.client), collection, state, PART_CHARS)

    # ---- the state log (append-only entries: BM25 statistic deltas; connectors/state_store.py) ----
    # Log calls run during ingestion: retried like bulk writes (``_retried``), so an outage the
    # write would ride out does not stop the run.
    def append_log(self, collection: str, entry: dict[str, Any]) -> str:
        """Append an entry to ``collection``'s log; returns its version."""
        state_store.check_collection_name(collection, STATE_INDEX)
        return self._retried(
            "append_log",
            STATE_INDEX,
            lambda c: state_store.append_log(ElasticsearchStateRecords(c), collection, entry, PART_CHARS),
        )

    def log_versions(self, collection: str) -> list[str]:
        """The versions of ``collection``'s log entries, oldest first."""
        return self._retried(
            "log_versions", STATE_INDEX, lambda c: state_store.log_versions(ElasticsearchStateRecords(c), collection)
        )

    def read_log(self, collection: str, versions: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The log entries of ``versions`` that exist, by version."""
        return self._retried(
            "read_log", STATE_INDEX, lambda c: state_store.read_log(ElasticsearchStateRecords(c), collection, versions)
        )

    def remove_log(self, collection: str, versions: Sequence[str]) -> None:
        """Remove log entries by version."""
        self._retried(
            "remove_log",
            STATE_INDEX,
            lambda c: state_store.remove_log(ElasticsearchStateRecords(c), collection, versions),
        )

    def _retried(self, action: str, collection: str, fn: Callable[[Elasticsearch], T]) -> T:
        """``fn(client)`` retried with the bulk writes' budget (connection errors, 429/5xx), quietly."""
        with self._errors(action, collection):
            once = self.client.options(max_retries=0)  # the retries are ours, with backoff
            return retry_request(f"{action} on {collection}", lambda: fn(once), **self._retry_budget())

    def spec(self, collection: str) -> CollectionSpec:
        """The collection's spec (cached; else read from the index's ``_meta``)."""
        if collection not in self._specs:
            with self._errors("read mapping", collection):
                mapping = self.client.indices.get_mapping(index=collection)[collection]["mappings"]
            return self._remember_mapping(collection, mapping)
        return self._specs[collection]

    def _refresh(self, collection: str, client: Optional[Elasticsearch] = None) -> None:
        if self.config.refresh is RefreshPolicy.AFTER_WRITE:
            (client or self.client).indices.refresh(index=collection)

    # ---- writes -----------------------------------------------------------------------------
    def upsert(self, collection: str, batch: IndexBatch) -> int:
        sources, failed = self._sources(self.spec(collection), batch)
        written = 0
        if sources:
            with self._errors("upsert", collection):
                result = bulk_index(self.client, collection, sources, **self._bulk_options())
            failed.update(result)
            written = result.written
            if written:
                try:
                    with self._errors("refresh after upsert", collection):
                        once = self.client.options(max_retries=0)  # the retries are ours, with backoff
                        retry_request(
                            f"refresh of {collection}", lambda: self._refresh(collection, once), **self._retry_budget()
                        )
                except StoreUnavailableError as exc:
                    raise self._refresh_failed(exc, written) from None
        return self._upserted(collection, batch, failed, written)

    def delete(self, collection: str, ids: Optional[Sequence[str]] = None, filter: Optional[Filter] = None) -> int:
        request = self._delete_request(collection, self.spec(collection), ids, filter)
        if request is None:
            return 0
        with self._errors("delete", collection):
            resp = self.client.delete_by_query(**request)
        return self._deleted(collection, resp)

    # ---- reads ------------------------------------------------------------------------------
    def get(self, collection: str, ids: Sequence[str], with_vectors: bool = False) -> list[Document]:
        spec = self.spec(collection)
        if not ids:
            return []
        request = self._get_request(collection, spec, ids, with_vectors)
        resp = self._retried("get", collection, lambda c: c.mget(**request))
        return self._documents(resp, spec, with_vectors)

    def iterate(
        self, collection: str, filter: Optional[Filter] = None, batch_size: int = 1000, with_vectors: bool = False
    ) -> Iterator[list[Document]]:
        """Every matching document once, in batches: a point in time (a snapshot: documents written
        meanwhile are not seen) paged with ``search_after``, sorted by the ``id`` keyword."""
        spec = self.spec(collection)
        body = self._iterate_body(spec, filter, batch_size, with_vectors)
        pit: Optional[str] = None
        try:
            with self._errors("open point in time", collection):
                pit = self.client.open_point_in_time(index=collection, keep_alive=PIT_KEEP_ALIVE)["id"]
        except ConnectorError as exc:
            self._without_pit(collection, exc)
        after: Optional[list[Any]] = None
        try:
            while True:
                with self._errors("iterate", collection):
                    resp = self.client.search(**self._page_request(collection, body, pit, after))
                docs, after, pit = self._page(resp, spec, with_vectors, pit)
                if docs:
                    yield docs
                if len(docs) < body["size"]:
                    return
        finally:
            if pit is not None:
                try:
                    self.client.close_point_in_time(id=pit)
                except (ApiError, TransportError) as exc:  # it expires by itself
                    log.debug("closing point in time failed: %s", exc)

    def delete_all(self, collection: str) -> int:
        """Delete every document (``delete_by_query`` match_all); the index and its state stay."""
        self.spec(collection)
        with self._errors("delete_all", collection):
            resp = self.client.delete_by_query(**self._delete_all_request(collection))
        return self._deleted(collection, resp)

    def count(self, collection: str, filter: Optional[Filter] = None) -> int:
        query = self._count_query(self.spec(collection), filter)
        with self._errors("count", collection):
            return int(self.client.count(index=collection, query=query)["count"])

    # ---- searches ---------------------------------------------------------------------------
    def search_dense(
        self,
        collection: str,
        vector: np.ndarray,
        k: int,
        filter: Optional[Filter] = None,
        ef: Optional[int] = None,
        *,
        content: bool = True,
    ) -> list[Hit]:
        request, finish = self._dense_search(collection, self.spec(collection), vector, k, filter, ef, content)
        with self._errors("search_dense", collection):
            return finish(self.client.search(**request))

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
        request = self._sparse_search(collection, self.spec(collection), vector, k, filter, field, content)
        if request is None:
            return []
        with self._errors("search_sparse", collection):
            return self._hits(self.client.search(**request))

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
        """``search_dense`` for each of ``vectors``, in one ``msearch``."""
        lines, finish = self._dense_many(collection, self.spec(collection), vectors, k, filter, ef, content)
        return self._msearch("search_dense", collection, lines, finish)

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
        """``search_sparse`` for each of ``vectors``, in one ``msearch``."""
        lines, finish = self._sparse_many(collection, self.spec(collection), vectors, k, filter, field, content)
        return self._msearch("search_sparse", collection, lines, finish)

    def _msearch(
        self, action: str, collection: str, lines: list[dict[str, Any]], finish: Callable[[Any], list[Sequence[Hit]]]
    ) -> list[Sequence[Hit]]:
        if not lines:
            return finish({"responses": []})
        with self._errors(action, collection):
            resp = self.client.msearch(searches=lines)
        try:
            return finish(resp)
        except ValueError as exc:
            raise ConnectorError(f"{action} on index {collection!r} failed: {exc}") from None

    def search_text(
        self, collection: str, text: str, k: int, filter: Optional[Filter] = None, *, content: bool = True
    ) -> list[Hit]:
        """BM25 ``match`` on the text field with the index's analyzer."""
        request = self._text_search(collection, self.spec(collection), text, k, filter, content)
        with self._errors("search_text", collection):
            return self._hits(self.client.search(**request))

    # ---- native hybrid ----------------------------------------------------------------------
    def licence_allows_rrf(self) -> bool:
        """Whether the licence API reports a licence with RRF; unreadable -> False (unknown)."""
        if self._licence_allows_rrf is None:
            try:
                self._licence_allows_rrf = self._licence_from(self.client.license.get()["license"])
            except (ApiError, TransportError, KeyError, TypeError) as exc:
                log.info("licence unreadable (%s): treating RRF as unavailable", exc)
                self._licence_allows_rrf = False
        return self._licence_allows_rrf

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
        """Server-side ``rrf`` retriever (needs an enterprise/trial licence; see ``NativeHybrid``)."""
        if self.config.native_hybrid is NativeHybrid.AUTO:
            self.licence_allows_rrf()
        self._check_native(rrf_k)
        request = self._native_search(collection, self.spec(collection), dense, sparse, k, filter, rrf_k, window)
        with self._native_errors(collection):
            return self._hits(self.client.search(**request))
