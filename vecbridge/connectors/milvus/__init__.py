"""Milvus (Lite file or server) connector. Needs the ``milvus`` extra (pymilvus, milvus-lite)."""

from vecbridge.connectors.milvus.async_connector import AsyncMilvusConnector
from vecbridge.connectors.milvus.connector import MilvusConnector
from vecbridge.connectors.milvus.filters import compile_filter, ids_expression

__all__ = ["AsyncMilvusConnector", "MilvusConnector", "compile_filter", "ids_expression"]
