"""CollectionSpec <-> Milvus schema and index parameters (pure functions over pymilvus objects).

Index mapping (``DenseIndex`` -> Milvus ``index_type``):

=============  =====================  =============================================
spec           Milvus Lite (file)     Milvus server
=============  =====================  =============================================
FLAT           FLAT (exact)           FLAT (exact)
HNSW           AUTOINDEX              HNSW (M=16, efConstruction=200)
INT8_HNSW      AUTOINDEX              HNSW_SQ (sq_type=SQ8)
AUTOINDEX      AUTOINDEX              AUTOINDEX
=============  =====================  =============================================

Milvus Lite 2.5.1 builds only FLAT / IVF_FLAT / AUTOINDEX locally. Sparse fields always get
SPARSE_INVERTED_INDEX with metric IP (exact inner product).
"""

from __future__ import annotations

from typing import Any, Optional

from pymilvus import DataType, MilvusClient

from schemas import CollectionMismatchError, CollectionSpec, DenseIndex, Metric, ScalarType

ID_MAX_LENGTH = 512
SCALAR_TYPES: dict[ScalarType, DataType] = {
    ScalarType.STRING: DataType.VARCHAR,
    ScalarType.INT: DataType.INT64,
    ScalarType.FLOAT: DataType.DOUBLE,
    ScalarType.BOOL: DataType.BOOL,
}
_SCALAR_BY_DTYPE = {v: k for k, v in SCALAR_TYPES.items()}
_FIXED = {"id", "text", "metadata", "dense"}


def index_type(spec: CollectionSpec, local: bool) -> str:
    """The Milvus dense ``index_type`` used for ``spec`` (see the module table)."""
    if spec.dense_index is DenseIndex.FLAT:
        return "FLAT"
    if local or spec.dense_index is DenseIndex.AUTOINDEX:
        return "AUTOINDEX"
    return "HNSW" if spec.dense_index is DenseIndex.HNSW else "HNSW_SQ"


def build_schema(spec: CollectionSpec, nullable: bool) -> Any:
    """The Milvus ``CollectionSchema`` for ``spec`` (filterable keys nullable where supported)."""
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=ID_MAX_LENGTH)
    schema.add_field("text", DataType.VARCHAR, max_length=spec.text_max_length)
    schema.add_field("metadata", DataType.JSON)
    for key, kind in spec.filterable.items():
        extra: dict[str, Any] = {"max_length": 65535} if kind is ScalarType.STRING else {}
        if nullable:
            extra["nullable"] = True
        schema.add_field(key, SCALAR_TYPES[kind], **extra)
    if spec.dense_dim is not None:
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=spec.dense_dim)
    for name in spec.sparse_fields:
        schema.add_field(name, DataType.SPARSE_FLOAT_VECTOR)
    return schema


def build_index_params(client: MilvusClient, spec: CollectionSpec, local: bool) -> Any:
    """Index parameters: the dense index (see table) and one SPARSE_INVERTED_INDEX per sparse field."""
    params = client.prepare_index_params()
    if spec.dense_dim is not None:
        kind = index_type(spec, local)
        extra: dict[str, Any] = {}
        if kind == "HNSW":
            extra = {"M": 16, "efConstruction": 200}
        elif kind == "HNSW_SQ":
            extra = {"M": 16, "efConstruction": 200, "sq_type": "SQ8"}
        params.add_index("dense", index_type=kind, metric_type=spec.metric.value, params=extra)
    for name in spec.sparse_fields:
        params.add_index(name, index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    return params


def spec_from_description(
    name: str, description: dict[str, Any], dense_index: Optional[dict[str, Any]]
) -> dict[str, Any]:
    """What an existing collection holds, in ``CollectionSpec`` terms (a plain dict of fields)."""
    fields = {f["name"]: f for f in description["fields"]}
    actual: dict[str, Any] = {"name": name, "dense_dim": None, "sparse_fields": [], "filterable": {}}
    for field_name, field in fields.items():
        dtype = field["type"]
        if field_name == "dense" and dtype == DataType.FLOAT_VECTOR:
            actual["dense_dim"] = int(field["params"]["dim"])
        elif dtype == DataType.SPARSE_FLOAT_VECTOR:
            actual["sparse_fields"].append(field_name)
        elif field_name == "text":
            actual["text_max_length"] = int(field["params"].get("max_length", 65535))
        elif field_name not in _FIXED:
            kind = _SCALAR_BY_DTYPE.get(dtype)
            actual["filterable"][field_name] = kind.value if kind else str(dtype)
    actual["sparse_fields"] = tuple(actual["sparse_fields"])
    if dense_index is not None:
        actual["metric"] = dense_index.get("metric_type")
        actual["index_type"] = dense_index.get("index_type")
    return actual


def check_matches(spec: CollectionSpec, actual: dict[str, Any], local: bool) -> None:
    """Raise ``CollectionMismatchError`` naming the first field where ``actual`` differs from ``spec``."""
    expected: dict[str, Any] = {
        "dense_dim": spec.dense_dim,
        "sparse_fields": tuple(sorted(spec.sparse_fields)),
        "filterable": {k: v.value for k, v in sorted(spec.filterable.items())},
        "text_max_length": spec.text_max_length,
    }
    got: dict[str, Any] = {
        "dense_dim": actual.get("dense_dim"),
        "sparse_fields": tuple(sorted(actual.get("sparse_fields", ()))),
        "filterable": dict(sorted(actual.get("filterable", {}).items())),
        "text_max_length": actual.get("text_max_length"),
    }
    if spec.dense_dim is not None and actual.get("dense_dim") is not None:
        expected["metric"], got["metric"] = spec.metric.value, actual.get("metric")
        expected["dense_index"], got["dense_index"] = index_type(spec, local), actual.get("index_type")
    for field, value in expected.items():
        if got[field] != value:
            raise CollectionMismatchError(
                f"collection {spec.name!r} exists with a different {field}: expected {value!r}, actual {got[field]!r}"
            )


def spec_from_actual(actual: dict[str, Any]) -> CollectionSpec:
    """A ``CollectionSpec`` describing an existing collection (for calls before ``ensure_collection``)."""
    index = actual.get("index_type")
    return CollectionSpec(
        name=actual["name"],
        dense_dim=actual.get("dense_dim"),
        metric=Metric(actual.get("metric") or "IP"),
        dense_index=DenseIndex(index) if index in DenseIndex.__members__ else DenseIndex.AUTOINDEX,
        sparse_fields=actual["sparse_fields"],
        filterable={k: ScalarType(v) for k, v in actual["filterable"].items() if v in {t.value for t in ScalarType}},
        text_max_length=actual.get("text_max_length", 65535),
    )
