"""Collection specs: the backend-neutral description of what a collection/index holds."""

from __future__ import annotations

from enum import Enum
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vecbridge.schemas.dates import is_datetime

_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Metric(str, Enum):
    """Dense similarity. IP on L2-normalized vectors equals cosine."""

    IP = "IP"
    COSINE = "COSINE"
    L2 = "L2"


class DenseIndex(str, Enum):
    """Dense index kind; backends map it to their nearest equivalent (documented per connector)."""

    FLAT = "FLAT"
    HNSW = "HNSW"
    INT8_HNSW = "INT8_HNSW"
    AUTOINDEX = "AUTOINDEX"


class ScalarType(str, Enum):
    """Type of a filterable metadata key."""

    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    DATETIME = "datetime"
    """ISO-8601 strings or ``datetime``/``date`` objects, compared by UTC instant at millisecond
    resolution (naive = UTC); see ``vecbridge.schemas.dates``."""


def fits_scalar_type(value: object, kind: ScalarType) -> bool:
    """Whether a metadata/filter value has the declared type (bools are not ints; ints are floats;
    datetimes are ``vecbridge.schemas.dates`` values)."""
    if kind is ScalarType.DATETIME:
        return is_datetime(value)
    if kind is ScalarType.BOOL:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is ScalarType.INT:
        return isinstance(value, int)
    if kind is ScalarType.FLOAT:
        return isinstance(value, (int, float))
    return isinstance(value, str)


class CollectionSpec(BaseModel):
    """What a collection stores: one optional dense field, named sparse fields, filterable keys.

    Every document also has ``id``, ``text`` and the full ``metadata`` JSON. Only keys listed in
    ``filterable`` may appear in filters; each becomes a typed scalar field in the backend.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME_PATTERN, max_length=200, description="Collection / index name.")
    dense_dim: Optional[int] = Field(default=None, gt=0, le=32768, description="None: no dense field.")
    metric: Metric = Metric.IP
    dense_index: DenseIndex = DenseIndex.FLAT
    sparse_fields: tuple[str, ...] = Field(default=("sparse",), description="Names of sparse vector fields.")
    filterable: dict[str, ScalarType] = Field(default_factory=dict)
    text_max_length: int = Field(default=65535, gt=0, le=65535, description="Max UTF-8 bytes of text.")
    text_analyzer: Optional[str] = Field(
        default=None,
        pattern=_NAME_PATTERN,
        description="Analyzer of the store's own full-text (BM25) index on `text` (Milvus: english, chinese or "
        "standard); None: no full-text index on Milvus. Elasticsearch analyzes `text` with its connector's "
        "text_analyzer setting.",
    )

    hnsw_m: Optional[int] = Field(
        default=None,
        ge=2,
        le=2048,
        description="HNSW graph degree M (dense_index HNSW / INT8_HNSW on a Milvus server; None: 16). Milvus Lite "
        "builds FLAT / AUTOINDEX only; Elasticsearch takes it from ElasticsearchConfig.hnsw_m.",
    )
    hnsw_ef_construction: Optional[int] = Field(
        default=None,
        ge=8,
        le=4096,
        description="HNSW efConstruction (as hnsw_m; None: 200).",
    )
    tenant_key: Optional[str] = Field(
        default=None,
        description="Filterable string key naming each document's tenant (HybridIndex.tenant(name) scopes every "
        "call to it). Milvus server: a partition-key field; Milvus Lite (whose engine cannot filter on a "
        "partition key): a plain scalar field; Elasticsearch: the keyword field.",
    )

    @field_validator("sparse_fields")
    @classmethod
    def _sparse_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import re

        for name in value:
            if not re.match(_NAME_PATTERN, name):
                raise ValueError(f"sparse field name {name!r} must be an identifier")
        if len(set(value)) != len(value):
            raise ValueError(f"sparse field names must be unique: {value}")
        return value

    @field_validator("filterable")
    @classmethod
    def _filter_keys(cls, value: dict[str, ScalarType]) -> dict[str, ScalarType]:
        import re

        reserved = {"id", "text", "metadata", "dense"}
        for key in value:
            if not re.match(_NAME_PATTERN, key) or key in reserved:
                raise ValueError(f"filterable key {key!r} must be an identifier and not one of {sorted(reserved)}")
        return value

    @model_validator(mode="after")
    def _has_vectors(self) -> CollectionSpec:
        if self.dense_dim is None and not self.sparse_fields and self.text_analyzer is None:
            raise ValueError(
                "a collection needs a dense field (dense_dim), a sparse field or a full-text index (text_analyzer)"
            )
        clash = set(self.sparse_fields) & (set(self.filterable) | {"id", "text", "metadata", "dense"})
        if clash:
            raise ValueError(f"sparse field names clash with other fields: {sorted(clash)}")
        hnsw = (self.hnsw_m, self.hnsw_ef_construction)
        if hnsw != (None, None) and self.dense_index not in (DenseIndex.HNSW, DenseIndex.INT8_HNSW):
            raise ValueError(
                f"hnsw_m / hnsw_ef_construction need dense_index HNSW or INT8_HNSW, got {self.dense_index.value}"
            )
        if self.tenant_key is not None and self.filterable.get(self.tenant_key) is not ScalarType.STRING:
            raise ValueError(f"tenant_key {self.tenant_key!r} must be a filterable key of type string")
        return self
