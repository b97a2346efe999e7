"""Elasticsearch 8.x connector (``pip install vecbridge[elasticsearch]``: ``elasticsearch>=8.15,<9``)."""

from vecbridge.connectors.elasticsearch.async_connector import AsyncElasticsearchConnector
from vecbridge.connectors.elasticsearch.config import ElasticsearchConfig, IpSimilarity, NativeHybrid, RefreshPolicy
from vecbridge.connectors.elasticsearch.connector import ElasticsearchConnector
from vecbridge.connectors.elasticsearch.filters import compile_filter

__all__ = [
    "AsyncElasticsearchConnector",
    "ElasticsearchConfig",
    "ElasticsearchConnector",
    "IpSimilarity",
    "NativeHybrid",
    "RefreshPolicy",
    "compile_filter",
]
