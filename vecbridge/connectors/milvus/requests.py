"""Milvus requests and results as pure functions, shared by ``MilvusConnector`` and
``AsyncMilvusConnector``: each builder validates its arguments and returns the keyword arguments
of one ``MilvusClient`` / ``AsyncMilvusClient`` call (``None``: nothing to ask, the answer is empty);
the converters turn the driver's answers into vecbridge types."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Optional

import numpy as np

from vecbridge.connectors.milvus.calls import NO_DRIVER_RETRY
from vecbridge.connectors.milvus.filters import compile_filter, ids_expression
from vecbridge.connectors.milvus.schema import HAS_DENSE_FIELD, TEXT_SPARSE_FIELD
from vecbridge.schemas import (
    CollectionSpec,
    ConfigurationError,
    Document,
    Filter,
    Hit,
    ScoredIds,
    SparseVector,
    StoredDocument,
    UnsupportedOperationError,
    bare_hit,
)
from vecbridge.schemas.arguments import check_ids

MAX_TOPK = 16384
OUTPUT = ["text", "metadata"]
GET_CHUNK = 1000
GET_ARGS: dict[str, Any] = {"output_fields": ["id", *OUTPUT], **NO_DRIVER_RETRY}
COUNT_ARGS: dict[str, Any] = {"output_fields": ["count(*)"], **NO_DRIVER_RETRY}
MAX_BATCH = MAX_TOPK  # Milvus' query limit
ALL_ROWS = 'id != ""'  # every document (ids are never empty)


def check_k(k: int, name: str = "k") -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_TOPK:
        raise ConfigurationError(f"{name} must be an integer in [1, {MAX_TOPK}] (Milvus top-k limit), got {k!r}")


def check_sparse_field(spec: CollectionSpec, field: str) -> None:
    if field not in spec.sparse_fields:
        raise ConfigurationError(
            f"collection {spec.name!r} has no sparse field {field!r}; sparse fields: {list(spec.sparse_fields)}"
        )


def dense_query(spec: CollectionSpec, vector: Any) -> np.ndarray:
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


def sparse_row(vector: SparseVector) -> dict[int, float]:
    return dict(zip(vector.indices.tolist(), vector.values.tolist(), strict=True))


def expression(spec: CollectionSpec, filter: Optional[Filter]) -> str:
    return "" if filter is None else compile_filter(filter, spec)


def dense_expression(spec: CollectionSpec, filter: Optional[Filter], flagged: bool) -> str:
    """``expression`` for a dense search: rows stored without a dense vector excluded (``flagged``:
    the collection has ``HAS_DENSE_FIELD``)."""
    expr = expression(spec, filter)
    if not flagged:
        return expr
    return f"{HAS_DENSE_FIELD} == true" if not expr else f"({HAS_DENSE_FIELD} == true) and ({expr})"


def stored_dense(row: dict[str, Any]) -> Optional[list[float]]:
    """The dense vector of a queried row (``output_fields`` with ``dense`` and ``HAS_DENSE_FIELD``),
    ``None`` for a document stored without one."""
    if row.get(HAS_DENSE_FIELD) is False or row.get("dense") is None:
        return None
    return [float(x) for x in row["dense"]]


# ---- searches: kwargs of client.search(collection, **kw) / client.hybrid_search(collection, **kw) ----
def search_outputs(content: bool) -> list[str]:
    """What a search returns besides ids and scores: text and metadata, or (``content=False``) nothing."""
    return OUTPUT if content else []


def dense_search(
    spec: CollectionSpec,
    vector: Any,
    k: int,
    filter: Optional[Filter],
    ef: Optional[int] = None,
    content: bool = True,
    flagged: bool = False,
) -> dict[str, Any]:
    """``ef``: HNSW search breadth, raised to ``k`` where smaller (Milvus requires ``ef >= limit``);
    ``flagged``: the collection has ``HAS_DENSE_FIELD`` (rows without a dense vector are skipped)."""
    check_k(k)
    query = dense_query(spec, vector)
    params: dict[str, Any] = {"metric_type": spec.metric.value}
    if ef is not None:
        check_k(ef, "ef")
        params["params"] = {"ef": max(int(ef), k)}
    return dict(
        data=[query],
        anns_field="dense",
        limit=k,
        filter=dense_expression(spec, filter, flagged),
        output_fields=search_outputs(content),
        search_params=params,
        **NO_DRIVER_RETRY,
    )


def sparse_search(
    spec: CollectionSpec, vector: SparseVector, k: int, filter: Optional[Filter], field: str, content: bool = True
) -> Optional[dict[str, Any]]:
    check_k(k)
    check_sparse_field(spec, field)
    expr = expression(spec, filter)
    if len(vector) == 0:
        return None
    return dict(
        data=[sparse_row(vector)],
        anns_field=field,
        limit=k,
        filter=expr,
        output_fields=search_outputs(content),
        search_params={"metric_type": "IP"},
        **NO_DRIVER_RETRY,
    )


def dense_search_many(
    spec: CollectionSpec,
    vectors: Sequence[Any],
    k: int,
    filter: Optional[Filter],
    ef: Optional[int] = None,
    content: bool = True,
    flagged: bool = False,
) -> Optional[dict[str, Any]]:
    """``dense_search`` for each of ``vectors`` in one request (None: no vectors)."""
    if not len(vectors):
        return None
    request = dense_search(spec, vectors[0], k, filter, ef, content, flagged)
    return {**request, "data": [dense_query(spec, v) for v in vectors]}


def sparse_search_many(
    spec: CollectionSpec,
    vectors: Sequence[SparseVector],
    k: int,
    filter: Optional[Filter],
    field: str,
    content: bool = True,
) -> tuple[list[int], Optional[dict[str, Any]]]:
    """(positions of the non-empty vectors, one request for them): an empty vector finds nothing."""
    built = [sparse_search(spec, v, k, filter, field, content) for v in vectors]
    asked = [i for i, request in enumerate(built) if request is not None]
    if not asked:
        return [], None
    return asked, {**built[asked[0]], "data": [built[i]["data"][0] for i in asked]}  # type: ignore[index,dict-item]


def placed(asked: Sequence[int], n: int, found: Sequence[Sequence[Hit]]) -> list[Sequence[Hit]]:
    """``found[j]`` (the hits of vector ``asked[j]``) at their positions among ``n``; [] elsewhere."""
    out: list[Sequence[Hit]] = [[] for _ in range(n)]
    for i, hits in zip(asked, found, strict=True):
        out[i] = hits
    return out


def text_search(
    spec: CollectionSpec, text: str, k: int, filter: Optional[Filter], content: bool = True
) -> Optional[dict[str, Any]]:
    check_k(k)
    if spec.text_analyzer is None:
        raise UnsupportedOperationError(
            f"collection {spec.name!r} has no full-text index: create it with CollectionSpec.text_analyzer "
            "(HybridIndex.create(..., text=True)), or index BM25 as sparse vectors (encoders.BM25Encoder)"
        )
    if not isinstance(text, str):
        raise ConfigurationError(f"text query must be str, got {type(text).__name__}")
    if not text.strip():
        return None
    return dict(
        data=[text],
        anns_field=TEXT_SPARSE_FIELD,
        limit=k,
        filter=expression(spec, filter),
        output_fields=search_outputs(content),
        search_params={"metric_type": "BM25"},
        **NO_DRIVER_RETRY,
    )


def hybrid_search(
    spec: CollectionSpec,
    dense: Optional[np.ndarray],
    sparse: dict[str, SparseVector],
    k: int,
    filter: Optional[Filter],
    rrf_k: float,
    window: int,
    flagged: bool = False,
) -> Optional[dict[str, Any]]:
    """``hybrid_search`` with ``RRFRanker(rrf_k)``; each retriever takes ``window`` candidates."""
    from pymilvus import AnnSearchRequest, RRFRanker

    check_k(k)
    check_k(window, "window")
    if not 0 < rrf_k < MAX_TOPK or float(rrf_k) != int(rrf_k):
        raise ConfigurationError(f"Milvus RRF needs an integer rrf_k in (0, {MAX_TOPK}), got {rrf_k!r}")
    expr = expression(spec, filter)
    requests = []
    if dense is not None:
        requests.append(
            AnnSearchRequest(
                data=[dense_query(spec, dense)],
                anns_field="dense",
                param={"metric_type": spec.metric.value},
                limit=window,
                expr=dense_expression(spec, filter, flagged) or None,
            )
        )
    for field, vector in sparse.items():
        check_sparse_field(spec, field)
        if len(vector):
            requests.append(
                AnnSearchRequest(
                    data=[sparse_row(vector)],
                    anns_field=field,
                    param={"metric_type": "IP"},
                    limit=window,
                    expr=expr or None,
                )
            )
    if not requests:
        if dense is None and not sparse:
            raise ConfigurationError("search_hybrid_native needs a dense vector and/or sparse vectors")
        return None
    return dict(reqs=requests, ranker=RRFRanker(int(rrf_k)), limit=k, output_fields=OUTPUT, **NO_DRIVER_RETRY)


# ---- reads and deletes ------------------------------------------------------------------
def output_fields(spec: CollectionSpec, with_vectors: bool, flagged: bool = False) -> list[str]:
    """Fields a read returns: id, text, metadata, and with ``with_vectors`` the vector fields (and
    ``HAS_DENSE_FIELD`` where the collection has it: ``flagged``)."""
    fields = ["id", *OUTPUT]
    if with_vectors:
        dense = ["dense", *([HAS_DENSE_FIELD] if flagged else [])] if spec.dense_dim is not None else []
        fields += dense + list(spec.sparse_fields)
    return fields


def get_args(spec: CollectionSpec, with_vectors: bool, flagged: bool = False) -> dict[str, Any]:
    return GET_ARGS if not with_vectors else {"output_fields": output_fields(spec, True, flagged), **NO_DRIVER_RETRY}


def check_batch_size(batch_size: int) -> None:
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or not 1 <= batch_size <= MAX_BATCH
    ):
        raise ConfigurationError(
            f"batch_size must be an integer in [1, {MAX_BATCH}] (Milvus query limit), got {batch_size!r}"
        )


def iterator_args(
    spec: CollectionSpec, filter: Optional[Filter], batch_size: int, with_vectors: bool, flagged: bool = False
) -> dict[str, Any]:
    """Keyword arguments of ``MilvusClient.query_iterator`` (pymilvus pages by primary key)."""
    check_batch_size(batch_size)
    return dict(
        batch_size=int(batch_size),
        filter=expression(spec, filter),
        output_fields=output_fields(spec, with_vectors, flagged),
    )


def get_expressions(ids: Sequence[str]) -> Iterator[str]:
    """One ``id in [...]`` expression per ``GET_CHUNK`` distinct ids."""
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), GET_CHUNK):
        yield ids_expression(unique[start : start + GET_CHUNK])


def check_delete(ids: Optional[Sequence[str]], filter: Optional[Filter]) -> None:
    if ids is None and filter is None:
        raise ConfigurationError("delete needs ids and/or a filter")
    if ids is not None:
        check_ids(ids)  # a bare "h1" would delete "h" and "1"


def delete_expression(
    spec: CollectionSpec, ids: Optional[Sequence[str]], filter: Optional[Filter], lite: bool
) -> Optional[str]:
    """Documents whose id is in ``ids`` or that match ``filter`` (``None``: nothing can match). On
    Lite, ids holding ``'`` cannot exist (``upsert`` rejects them) and are skipped."""
    parts = []
    ids = [i for i in dict.fromkeys(ids or ()) if not (lite and "'" in i)]
    if ids:
        parts.append(ids_expression(ids))
    if filter is not None:
        parts.append(compile_filter(filter, spec))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else " or ".join(f"({p})" for p in parts)


# ---- results ----------------------------------------------------------------------------
def hits(result: Any, content: bool = True) -> Sequence[Hit]:
    """Hits of a one-query search answer; ids-and-scores rows (``content=False``) are built unvalidated,
    from the answer's plain ``ids`` / ``distances`` lists where pymilvus gives them."""
    return query_hits(result[0] if result else [], content)


def hits_many(result: Any, queries: int, content: bool = True) -> list[Sequence[Hit]]:
    """Hits of each query of a ``queries``-query search answer, in query order."""
    rows = list(result) if result else []
    if len(rows) != queries:
        raise ValueError(f"Milvus answered {len(rows)} result lists for {queries} queries")
    return [query_hits(one, content) for one in rows]


def query_hits(rows: Any, content: bool = True) -> Sequence[Hit]:
    """Hits of one query's rows of a search answer (see ``hits``)."""
    ids, distances = getattr(rows, "ids", None), getattr(rows, "distances", None)
    if not content and isinstance(ids, list) and isinstance(distances, list) and len(ids) == len(distances):
        return ScoredIds([str(i) for i in ids], [float(d) for d in distances])
    out = []
    for hit in rows:
        entity = hit.get("entity")
        if not entity:
            out.append(bare_hit(str(hit["id"]), float(hit["distance"])))
            continue
        out.append(
            Hit(
                id=hit["id"],
                score=float(hit["distance"]),
                text=entity.get("text", ""),
                metadata=entity.get("metadata") or {},
            )
        )
    return out


def documents(
    rows: Sequence[dict[str, Any]], spec: Optional[CollectionSpec] = None, with_vectors: bool = False
) -> dict[str, Document]:
    """Documents by id from query rows; with ``with_vectors``, ``StoredDocument``s (a sparse field
    holding no weights is left out of ``sparse``)."""
    if not with_vectors or spec is None:
        return {row["id"]: Document(id=row["id"], text=row["text"], metadata=row["metadata"] or {}) for row in rows}
    out: dict[str, Document] = {}
    for row in rows:
        dense = stored_dense(row) if spec.dense_dim is not None else None
        sparse = {}
        for name in spec.sparse_fields:
            weights = row.get(name)
            if weights:
                sparse[name] = SparseVector.from_dict(weights)
        out[row["id"]] = StoredDocument(
            id=row["id"],
            text=row["text"],
            metadata=row["metadata"] or {},
            dense=None if dense is None else [float(x) for x in dense],
            sparse=sparse,
        )
    return out


def count(rows: Sequence[dict[str, Any]]) -> int:
    return int(rows[0]["count(*)"]) if rows else 0
