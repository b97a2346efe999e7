"""CollectionSpec <-> Milvus schema and index parameters (pure functions over pymilvus objects).

Index mapping (``DenseIndex`` -> Milvus ``index_type``):

=============  =====================  =============================================
spec           Milvus Lite (file)     Milvus server
=============  =====================  =============================================
FLAT           FLAT (exact)           FLAT (exact)
HNSW           AUTOINDEX              HNSW (M=spec.hnsw_m or 16, efConstruction=spec.hnsw_ef_construction or 200)
INT8_HNSW      AUTOINDEX              HNSW_SQ (sq_type=SQ8, same M / efConstruction)
AUTOINDEX      AUTOINDEX              AUTOINDEX
=============  =====================  =============================================

Milvus Lite 2.5.1 builds only FLAT / IVF_FLAT / AUTOINDEX locally (asked for HNSW it answers "invalid
index type: HNSW, local mode only support FLAT IVF_FLAT AUTOINDEX", tried on the file and on
``milvus_lite.server``). Sparse fields always get
SPARSE_INVERTED_INDEX with metric IP (exact inner product).

Full-text search (``spec.text_analyzer`` set): ``text`` becomes an analyzed VARCHAR
(``enable_analyzer``, ``analyzer_params={"type": <analyzer>}``, one of ``TEXT_ANALYZERS``), a
``Function(type=BM25)`` writes its terms into the sparse field ``TEXT_SPARSE_FIELD``, indexed by
SPARSE_INVERTED_INDEX with metric BM25 (``bm25_k1`` 1.2, ``bm25_b`` 0.75, Milvus's defaults). The
server keeps the corpus statistics (document count, average length, document frequencies) and
updates them on inserts and deletes.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from pymilvus import DataType, Function, FunctionType, MilvusClient

from vecbridge.connectors.milvus.filters import PRESENCE_SUFFIX, presence_field
from vecbridge.connectors.milvus.json_filters import META_TYPES_FIELD
from vecbridge.schemas import (
    CollectionMismatchError,
    CollectionSpec,
    ConfigurationError,
    DenseIndex,
    Metric,
    ScalarType,
)

ID_MAX_LENGTH = 512
SCALAR_TYPES: dict[ScalarType, DataType] = {
    ScalarType.STRING: DataType.VARCHAR,
    ScalarType.INT: DataType.INT64,
    ScalarType.FLOAT: DataType.DOUBLE,
    ScalarType.BOOL: DataType.BOOL,
    ScalarType.DATETIME: DataType.INT64,
}
_SCALAR_BY_DTYPE = {v: k for k, v in SCALAR_TYPES.items() if k is not ScalarType.DATETIME}
DATETIME_DESCRIPTION = "vecbridge:datetime (epoch milliseconds, UTC)"
"""Field description telling a DATETIME key's INT64 field from an INT key's."""
TEXT_SPARSE_FIELD = "text_bm25"
HAS_DENSE_FIELD = "_has_dense"
"""BOOL field beside ``dense``: False for a document stored without a dense vector (Milvus 2.5 has no
nullable vector fields, so such a row holds a zero vector that dense search filters out)."""
TEXT_ANALYZERS = ("english", "chinese", "standard")
BM25_K1, BM25_B = 1.2, 0.75
_FIXED = {"id", "text", "metadata", "dense", TEXT_SPARSE_FIELD, HAS_DENSE_FIELD, META_TYPES_FIELD}


def check_text_analyzer(spec: CollectionSpec) -> None:
    """Raise ``ConfigurationError`` if Milvus cannot build ``spec``'s full-text index."""
    if spec.text_analyzer is None:
        return
    if spec.text_analyzer not in TEXT_ANALYZERS:
        raise ConfigurationError(
            f"collection {spec.name!r}: text_analyzer={spec.text_analyzer!r}; Milvus offers {list(TEXT_ANALYZERS)}"
        )
    clash = {TEXT_SPARSE_FIELD} & (set(spec.sparse_fields) | set(spec.filterable))
    if clash:
        raise ConfigurationError(
            f"collection {spec.name!r}: field name {TEXT_SPARSE_FIELD!r} is reserved for full-text search"
        )


def check_reserved(spec: CollectionSpec) -> None:
    """Raise ``ConfigurationError`` if ``spec`` names a field Milvus collections reserve."""
    check_text_analyzer(spec)
    if HAS_DENSE_FIELD in set(spec.sparse_fields) | set(spec.filterable):
        raise ConfigurationError(
            f"collection {spec.name!r}: field name {HAS_DENSE_FIELD!r} is reserved (documents without a dense vector)"
        )
    if META_TYPES_FIELD in set(spec.sparse_fields) | set(spec.filterable):
        raise ConfigurationError(
            f"collection {spec.name!r}: field name {META_TYPES_FIELD!r} is reserved "
            "(filters on undeclared metadata keys)"
        )


def index_type(spec: CollectionSpec, local: bool) -> str:
    """The Milvus dense ``index_type`` used for ``spec`` (see the module table)."""
    if spec.dense_index is DenseIndex.FLAT:
        return "FLAT"
    if local or spec.dense_index is DenseIndex.AUTOINDEX:
        return "AUTOINDEX"
    return "HNSW" if spec.dense_index is DenseIndex.HNSW else "HNSW_SQ"


HNSW_M, HNSW_EF_CONSTRUCTION = 16, 200


def hnsw_params(spec: CollectionSpec) -> dict[str, int]:
    """The HNSW build parameters of ``spec`` (defaults where unset)."""
    return {"M": spec.hnsw_m or HNSW_M, "efConstruction": spec.hnsw_ef_construction or HNSW_EF_CONSTRUCTION}


def check_field_names(spec: CollectionSpec) -> None:
    """``ConfigurationError`` if a filterable key collides with another key's presence field."""
    clash = sorted(presence_field(k) for k in spec.filterable if presence_field(k) in spec.filterable)
    if clash:
        raise ConfigurationError(
            f"collection {spec.name!r}: filterable keys {clash} collide with the presence "
            f"fields Milvus keeps for other keys (suffix {PRESENCE_SUFFIX!r})"
        )


def build_schema(spec: CollectionSpec, partition_key: bool = False) -> Any:
    """The Milvus ``CollectionSchema`` for ``spec``: per filterable key a typed field and its BOOL
    presence field (connectors/milvus/filters.py; Milvus Lite has no nullable fields, the flag works on
    every engine).
    ``partition_key``: the tenant key becomes the partition key (a server only: Milvus Lite 2.5.1
    creates such a field but rejects every filter on it, "Invalid expr", tried)."""
    check_field_names(spec)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=ID_MAX_LENGTH)
    text: dict[str, Any] = {}
    if spec.text_analyzer is not None:
        check_text_analyzer(spec)
        text = {"enable_analyzer": True, "analyzer_params": {"type": spec.text_analyzer}}
    schema.add_field("text", DataType.VARCHAR, max_length=spec.text_max_length, **text)
    schema.add_field("metadata", DataType.JSON)
    schema.add_field(META_TYPES_FIELD, DataType.JSON)  # dotted path -> JSON type tag (json_filters.py)
    for key, kind in spec.filterable.items():
        extra: dict[str, Any] = {"max_length": 65535} if kind is ScalarType.STRING else {}
        if kind is ScalarType.DATETIME:
            extra["description"] = DATETIME_DESCRIPTION
        if partition_key and key == spec.tenant_key:
            extra["is_partition_key"] = True
        schema.add_field(key, SCALAR_TYPES[kind], **extra)
        schema.add_field(presence_field(key), DataType.BOOL)
    if spec.dense_dim is not None:
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=spec.dense_dim)
        schema.add_field(HAS_DENSE_FIELD, DataType.BOOL)
    for name in spec.sparse_fields:
        schema.add_field(name, DataType.SPARSE_FLOAT_VECTOR)
    if spec.text_analyzer is not None:
        schema.add_field(TEXT_SPARSE_FIELD, DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name=f"{TEXT_SPARSE_FIELD}_fn",
                function_type=FunctionType.BM25,
                input_field_names=["text"],
                output_field_names=[TEXT_SPARSE_FIELD],
            )
        )
    return schema


def build_index_params(client: MilvusClient, spec: CollectionSpec, local: bool) -> Any:
    """Index parameters: the dense index (see table) and one SPARSE_INVERTED_INDEX per sparse field."""
    params = client.prepare_index_params()
    if spec.dense_dim is not None:
        kind = index_type(spec, local)
        extra: dict[str, Any] = {}
        if kind in ("HNSW", "HNSW_SQ"):
            extra.update(hnsw_params(spec))
            if kind == "HNSW_SQ":
                extra["sq_type"] = "SQ8"
        params.add_index("dense", index_type=kind, metric_type=spec.metric.value, params=extra)
    for name in spec.sparse_fields:
        params.add_index(name, index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    if spec.text_analyzer is not None:
        params.add_index(
            TEXT_SPARSE_FIELD,
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": BM25_K1, "bm25_b": BM25_B},
        )
    return params


def spec_from_description(
    name: str, description: dict[str, Any], dense_index: Optional[dict[str, Any]]
) -> dict[str, Any]:
    """What an existing collection holds, in ``CollectionSpec`` terms (a plain dict of fields)."""
    fields = {f["name"]: f for f in description["fields"]}
    actual: dict[str, Any] = {
        "name": name,
        "dense_dim": None,
        "sparse_fields": [],
        "filterable": {},
        "text_analyzer": None,
    }
    flags = {
        n
        for n, f in fields.items()
        if n.endswith(PRESENCE_SUFFIX) and f["type"] == DataType.BOOL and n[: -len(PRESENCE_SUFFIX)] in fields
    }
    for field_name, field in fields.items():
        dtype = field["type"]
        if field_name == "dense" and dtype == DataType.FLOAT_VECTOR:
            actual["dense_dim"] = int(field["params"]["dim"])
        elif field_name == HAS_DENSE_FIELD:
            actual["has_dense_field"] = True
        elif dtype == DataType.SPARSE_FLOAT_VECTOR:
            if not field.get("is_function_output"):
                actual["sparse_fields"].append(field_name)
        elif field_name == "text":
            actual["text_max_length"] = int(field["params"].get("max_length", 65535))
            actual["text_analyzer"] = _analyzer_name(field["params"])
        elif field_name not in _FIXED and field_name not in flags:
            kind: Optional[ScalarType] = _SCALAR_BY_DTYPE.get(dtype)
            if dtype == DataType.INT64 and field.get("description") == DATETIME_DESCRIPTION:
                kind = ScalarType.DATETIME
            actual["filterable"][field_name] = kind.value if kind else str(dtype)
            if field.get("is_partition_key"):
                actual["tenant_key"] = field_name
    actual["has_meta_types"] = META_TYPES_FIELD in fields
    actual["unflagged"] = sorted(k for k in actual["filterable"] if presence_field(k) not in flags)
    actual["sparse_fields"] = tuple(actual["sparse_fields"])
    if dense_index is not None:
        actual["metric"] = dense_index.get("metric_type")
        actual["index_type"] = dense_index.get("index_type")
        if actual["index_type"] in ("HNSW", "HNSW_SQ"):
            actual["hnsw"] = {k: int(dense_index[k]) for k in ("M", "efConstruction") if k in dense_index}
    return actual


def _analyzer_name(params: dict[str, Any]) -> Optional[str]:
    """The analyzer ``type`` of an analyzed VARCHAR field's params (None: not analyzed)."""
    if str(params.get("enable_analyzer", "false")).lower() != "true":
        return None
    raw = params.get("analyzer_params") or "{}"
    analyzer = json.loads(raw) if isinstance(raw, str) else raw
    return str(analyzer.get("type") or analyzer.get("tokenizer") or "standard")


def check_presence_fields(name: str, actual: dict[str, Any]) -> None:
    """``CollectionMismatchError`` for a collection whose filterable fields lack presence fields."""
    if actual.get("unflagged"):
        raise CollectionMismatchError(
            f"collection {name!r} was created by an older vecbridge: filterable keys {actual['unflagged']} have "
            f"no presence field ({presence_field(actual['unflagged'][0])!r}), so documents lacking them cannot be "
            "stored or filtered; re-create the collection"
        )


def check_matches(spec: CollectionSpec, actual: dict[str, Any], local: bool) -> None:
    """Raise ``CollectionMismatchError`` naming the first field where ``actual`` differs from ``spec``."""
    expected: dict[str, Any] = {
        "dense_dim": spec.dense_dim,
        "sparse_fields": tuple(sorted(spec.sparse_fields)),
        "filterable": {k: v.value for k, v in sorted(spec.filterable.items())},
        "text_max_length": spec.text_max_length,
        "text_analyzer": spec.text_analyzer,
    }
    got: dict[str, Any] = {
        "dense_dim": actual.get("dense_dim"),
        "sparse_fields": tuple(sorted(actual.get("sparse_fields", ()))),
        "filterable": dict(sorted(actual.get("filterable", {}).items())),
        "text_max_length": actual.get("text_max_length"),
        "text_analyzer": actual.get("text_analyzer"),
    }
    if spec.dense_dim is not None and actual.get("dense_dim") is not None:
        expected["metric"], got["metric"] = spec.metric.value, actual.get("metric")
        expected["dense_index"], got["dense_index"] = index_type(spec, local), actual.get("index_type")
        if not local and expected["dense_index"] in ("HNSW", "HNSW_SQ") and "hnsw" in actual:
            expected["hnsw_m / hnsw_ef_construction"] = hnsw_params(spec)
            got["hnsw_m / hnsw_ef_construction"] = actual["hnsw"]
    check_presence_fields(spec.name, actual)
    for field, value in expected.items():
        if got[field] != value:
            raise CollectionMismatchError(
                f"collection {spec.name!r} exists with a different {field}: expected {value!r}, actual {got[field]!r}"
            )


def spec_from_actual(actual: dict[str, Any]) -> CollectionSpec:
    """A ``CollectionSpec`` describing an existing collection (for calls before ``ensure_collection``)."""
    check_presence_fields(actual["name"], actual)
    index = actual.get("index_type")
    return CollectionSpec(
        name=actual["name"],
        dense_dim=actual.get("dense_dim"),
        metric=Metric(actual.get("metric") or "IP"),
        dense_index=DenseIndex(index) if index in DenseIndex.__members__ else DenseIndex.AUTOINDEX,
        sparse_fields=actual["sparse_fields"],
        filterable={k: ScalarType(v) for k, v in actual["filterable"].items() if v in {t.value for t in ScalarType}},
        text_max_length=actual.get("text_max_length", 65535),
        text_analyzer=actual.get("text_analyzer"),
        tenant_key=actual.get("tenant_key"),
    )
