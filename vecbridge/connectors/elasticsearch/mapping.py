"""Index mapping from a ``CollectionSpec``, the mapping check, and documents as ``_source``. Pure.

Layout of one document::

    id        keyword       text     text (BM25, analyzer from config)
    metadata  object, dynamic false: the full JSON (any shape) is kept in _source, only declared
              filterable keys are indexed, typed (keyword / long / double / boolean / date) at
              ``metadata.<key>``; a missing or null key is simply not indexed (``exists`` tells)
    meta_terms keyword, many values: every other metadata key and dotted path, as terms
              (connectors/elasticsearch/meta_terms.py); filters on undeclared keys use it
    dense     dense_vector  (dims, index true, similarity, index_options)
    <sparse>  rank_features, one per sparse field; keys are token ids as strings

``rank_features`` stores only positive normal floats, truncated to 9 significant bits (Lucene
``FeatureField``): a stored weight ``w`` reads back as ``truncate_to_9_bits(w)``, at most 0.4 %
smaller, so sparse scores are within 0.4 % of the exact inner product (tested).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Optional

import numpy as np

from vecbridge.connectors.elasticsearch.config import ElasticsearchConfig
from vecbridge.connectors.elasticsearch.filters import METADATA_FIELD
from vecbridge.connectors.elasticsearch.meta_terms import META_TERMS_FIELD, meta_terms
from vecbridge.schemas import (
    CollectionMismatchError,
    CollectionSpec,
    ConfigurationError,
    DenseIndex,
    IndexBatch,
    Metric,
    ScalarType,
    SparseVector,
    fits_scalar_type,
)

DENSE_FIELD = "dense"
META_KEY = "vecbridge"

SCALAR_MAPPING = {
    ScalarType.STRING: "keyword",
    ScalarType.INT: "long",
    ScalarType.FLOAT: "double",
    ScalarType.BOOL: "boolean",
    ScalarType.DATETIME: "date",
}
INDEX_OPTIONS = {
    DenseIndex.FLAT: "flat",
    DenseIndex.HNSW: "hnsw",
    DenseIndex.INT8_HNSW: "int8_hnsw",
    DenseIndex.AUTOINDEX: "hnsw",
}
_FLOAT32_TINY = float(np.finfo(np.float32).tiny)


def similarity(spec: CollectionSpec, config: ElasticsearchConfig) -> str:
    """ES ``similarity`` for the spec's metric."""
    if spec.metric is Metric.IP:
        return config.ip_similarity.value
    return "cosine" if spec.metric is Metric.COSINE else "l2_norm"


def build_mapping(spec: CollectionSpec, config: ElasticsearchConfig) -> dict[str, Any]:
    """The ``mappings`` body creating an index for ``spec`` (the spec is kept in ``_meta``)."""
    if META_TERMS_FIELD in spec.sparse_fields:
        raise ConfigurationError(
            f"collection {spec.name!r}: field name {META_TERMS_FIELD!r} is reserved "
            "(filters on undeclared metadata keys)"
        )
    properties: dict[str, Any] = {
        "id": {"type": "keyword"},
        "text": {"type": "text", "analyzer": config.text_analyzer},
        METADATA_FIELD: {
            "type": "object",
            "dynamic": False,
            "properties": {key: {"type": SCALAR_MAPPING[kind]} for key, kind in spec.filterable.items()},
        },
        META_TERMS_FIELD: {"type": "keyword"},
    }
    if spec.dense_dim is not None:
        options: dict[str, Any] = {"type": INDEX_OPTIONS[spec.dense_index]}
        if options["type"].endswith("hnsw"):
            options.update(m=config.hnsw_m, ef_construction=config.hnsw_ef_construction)
        properties[DENSE_FIELD] = {
            "type": "dense_vector",
            "dims": spec.dense_dim,
            "index": True,
            "similarity": similarity(spec, config),
            "index_options": options,
        }
    for name in spec.sparse_fields:
        properties[name] = {"type": "rank_features"}
    return {"dynamic": "strict", "_meta": {META_KEY: {"spec": spec.model_dump(mode="json")}}, "properties": properties}


def _summary(prop: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """The parts of a field mapping that the check compares."""
    if prop is None:
        return None
    kind = prop.get("type", "object" if "properties" in prop else None)
    out: dict[str, Any] = {"type": kind}
    if kind == "text":
        out["analyzer"] = prop.get("analyzer", "standard")
    if kind == "dense_vector":
        out["dims"] = prop.get("dims")
        out["similarity"] = prop.get("similarity")
        out["index_options.type"] = (prop.get("index_options") or {}).get("type")
    return out


_SPEC_FIELD_OF = {
    "dims": "dense_dim",
    "similarity": "metric",
    "index_options.type": "dense_index",
    "analyzer": "text_analyzer",
}


def _spec_field(name: str, attr: Optional[str]) -> str:
    """The ``CollectionSpec`` (or config) field behind a mapping difference."""
    if name.startswith(f"{METADATA_FIELD}."):
        return "filterable"
    if name == META_TERMS_FIELD:
        return "metadata layout (filters on undeclared keys; re-create the index)"
    if attr in _SPEC_FIELD_OF:
        return _SPEC_FIELD_OF[attr]
    return "dense_dim" if name == DENSE_FIELD else "sparse_fields"


def mapping_differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Human-readable differences between two ``mappings`` bodies (empty: they match), each naming
    the spec field (``dense_dim``, ``metric``, ``dense_index``, ``sparse_fields``, ``filterable``)."""
    diffs: list[str] = []
    exp_props, act_props = expected.get("properties", {}), actual.get("properties", {})
    exp_meta = exp_props.get(METADATA_FIELD, {}).get("properties", {})
    act_meta = act_props.get(METADATA_FIELD, {}).get("properties", {})
    fields = [(name, exp_props.get(name), act_props.get(name)) for name in sorted(set(exp_props) | set(act_props))]
    fields = [f for f in fields if f[0] != METADATA_FIELD]
    fields += [
        (f"{METADATA_FIELD}.{key}", exp_meta.get(key), act_meta.get(key))
        for key in sorted(set(exp_meta) | set(act_meta))
    ]
    for name, exp, act in fields:
        exp_s, act_s = _summary(exp), _summary(act)
        if exp_s == act_s:
            continue
        if act_s is None:
            diffs.append(f"{_spec_field(name, None)}: field {name!r} missing in the index, spec wants {exp_s}")
        elif exp_s is None:
            diffs.append(f"{_spec_field(name, None)}: index has field {name!r} {act_s}, spec has no such field")
        else:
            for attr in sorted(set(exp_s) | set(act_s)):
                if exp_s.get(attr) != act_s.get(attr):
                    label = _spec_field(name, attr) if attr != "type" else _spec_field(name, None)
                    diffs.append(
                        f"{label}: field {name!r} {attr}: index has {act_s.get(attr)!r}, spec wants {exp_s.get(attr)!r}"
                    )
    return diffs


def spec_from_mapping(mapping: dict[str, Any]) -> Optional[CollectionSpec]:
    """The spec stored in ``_meta`` by ``build_mapping``; None for indices vecbridge did not create.
    ``CollectionMismatchError`` for an index created before ``meta_terms``."""
    stored = (mapping.get("_meta") or {}).get(META_KEY, {}).get("spec")
    if stored is None:
        return None
    spec = CollectionSpec.model_validate(stored)
    if META_TERMS_FIELD not in mapping.get("properties", {}):  # filters on undeclared keys would miss its documents
        raise CollectionMismatchError(
            f"index {spec.name!r} was created by an older vecbridge without the {META_TERMS_FIELD!r} field that "
            "filters on undeclared metadata keys read; re-create the index"
        )
    return spec


# ---- documents ----------------------------------------------------------------------------
def _type_ok(value: Any, kind: ScalarType) -> bool:
    """The declared type, and (real ES rejects others) ints within a signed 64-bit long."""
    return fits_scalar_type(value, kind) and (kind is not ScalarType.INT or -(2**63) <= value < 2**63)


def document_problem(metadata: dict[str, Any], text: str, spec: CollectionSpec) -> Optional[str]:
    """Why a document cannot be stored faithfully (None: it can).

    Filterable keys must hold one scalar of their declared type (or null, or be missing):
    Elasticsearch would otherwise coerce ("7" into a long) or treat a list as several values, and
    filters would no longer agree with ``vecbridge.schemas.matches``. DATETIME values are ISO-8601 strings
    (``vecbridge.schemas.dates``). Elasticsearch reads a dotted key ``"k.x"`` as the sub-field ``x`` of
    ``k``, which a filterable ``k`` cannot have, so such keys are refused too (other dotted keys and
    nested values of any shape are stored as they are: unmapped, never indexed).
    """
    for key, kind in spec.filterable.items():
        value = metadata.get(key)
        if value is not None and not _type_ok(value, kind):
            if kind is ScalarType.DATETIME:
                return f"metadata[{key!r}]={value!r} is not an ISO-8601 date/time (filterable key of type datetime)"
            return (
                f"metadata[{key!r}]={value!r} is not a single {kind.value} "
                "(filterable key; int means a signed 64-bit long)"
            )
    for key in metadata:
        head = key.split(".", 1)[0]
        if "." in key and head in spec.filterable:
            return (
                f"metadata key {key!r} would be read by Elasticsearch as a sub-field of the filterable key "
                f"{head!r}; rename it"
            )
    size = len(text.encode("utf-8"))
    if size > spec.text_max_length:
        return f"text is {size} UTF-8 bytes, more than text_max_length={spec.text_max_length}"
    return None


def unit_length_problem(row: np.ndarray) -> Optional[str]:
    """Real ES rejects non-unit vectors for ``dot_product``; same check, same tolerance."""
    squared = float(np.dot(row.astype(np.float32), row.astype(np.float32)))
    if abs(squared - 1.0) > 1e-4:
        return f"dense vector has squared norm {squared:.6f}; the dot_product similarity needs unit-length vectors"
    return None


def sparse_source(vector: SparseVector) -> dict[str, float]:
    """``rank_features`` value: ``{"token_id": weight}``; subnormal weights (which ES rejects) dropped."""
    keep = vector.values >= _FLOAT32_TINY
    return dict(zip(map(str, vector.indices[keep].tolist()), vector.values[keep].tolist(), strict=True))


def iter_sources(batch: IndexBatch) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(id, _source)`` for each document of the batch, in order (no ``dense`` field for a row
    ``batch.dense_present`` marks as having none: kNN search never sees that document)."""
    dense = None if batch.dense is None else batch.dense.tolist()
    for row, doc in enumerate(batch.documents):
        source: dict[str, Any] = {
            "id": doc.id,
            "text": doc.text,
            METADATA_FIELD: doc.metadata,
            META_TERMS_FIELD: meta_terms(doc.metadata),
        }
        if dense is not None and batch.has_dense(row):
            source[DENSE_FIELD] = dense[row]
        for name, vectors in batch.sparse.items():
            features = sparse_source(vectors[row])
            if features:
                source[name] = features
        yield doc.id, source


def truncate_to_9_bits(values: np.ndarray) -> np.ndarray:
    """What ``rank_features`` reads back: float32 with the low 15 mantissa bits cleared."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32)
    return (bits & np.uint32(0xFFFF8000)).view(np.float32)
