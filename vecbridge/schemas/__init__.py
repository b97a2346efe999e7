"""Pydantic models shared by every vecbridge layer. Imports nothing else of vecbridge's."""

from vecbridge.schemas.collection import CollectionSpec, DenseIndex, Metric, ScalarType, fits_scalar_type
from vecbridge.schemas.documents import Document, JsonScalar, MetadataValue
from vecbridge.schemas.embeddings import Embeddings, IndexBatch
from vecbridge.schemas.errors import (
    CollectionMismatchError,
    CollectionNotFoundError,
    ConfigurationError,
    ConnectorError,
    FilterError,
    InvalidInputError,
    ModelNotFoundError,
    StoreUnavailableError,
    UnsupportedOperationError,
    VecbridgeError,
    WriteError,
)
from vecbridge.schemas.filters import And, Condition, Filter, FilterOp, Not, Or, matches, parse_filter, validate_filter
from vecbridge.schemas.search import (
    FusionMethod,
    FusionParams,
    Hit,
    RetrieverExplain,
    ScoredIds,
    SearchMode,
    SearchRequest,
    bare_hit,
    ids_and_scores,
    trusted_hit,
)
from vecbridge.schemas.settings import Settings
from vecbridge.schemas.sparse import SparseVector
from vecbridge.schemas.stored import StoredDocument, VectorDocument

__all__ = [
    "And",
    "CollectionMismatchError",
    "CollectionNotFoundError",
    "CollectionSpec",
    "Condition",
    "ConfigurationError",
    "ConnectorError",
    "DenseIndex",
    "Document",
    "Embeddings",
    "Filter",
    "FilterError",
    "FilterOp",
    "InvalidInputError",
    "FusionMethod",
    "FusionParams",
    "Hit",
    "bare_hit",
    "trusted_hit",
    "ids_and_scores",
    "ScoredIds",
    "RetrieverExplain",
    "IndexBatch",
    "JsonScalar",
    "MetadataValue",
    "Metric",
    "ModelNotFoundError",
    "Not",
    "Or",
    "ScalarType",
    "SearchMode",
    "SearchRequest",
    "Settings",
    "SparseVector",
    "StoreUnavailableError",
    "StoredDocument",
    "UnsupportedOperationError",
    "VecbridgeError",
    "VectorDocument",
    "WriteError",
    "fits_scalar_type",
    "matches",
    "parse_filter",
    "validate_filter",
]
