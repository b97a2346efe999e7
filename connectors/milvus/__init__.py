"""Milvus (Lite file or server) connector. Needs the ``milvus`` extra (pymilvus, milvus-lite)."""

from connectors.milvus.async_connector import AsyncMilvusConnector
from connectors.milvus.connector import MilvusConnector
from connectors.milvus.filters import compile_filter, ids_expression

__all__ = ["AsyncMilvusConnector", "MilvusConnector", "compile_filter", "ids_expression"]
