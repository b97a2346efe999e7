"""Settings from the environment (prefix ``VECBRIDGE_``) or a ``.env`` file."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob a deployment sets. Secrets are ``SecretStr``: printed as ``**********``."""

    model_config = SettingsConfigDict(env_prefix="VECBRIDGE_", env_file=".env", extra="ignore")

    # store
    backend: Literal["milvus", "elasticsearch"] = "milvus"
    uri: str = Field(default="./vecbridge.db", description="Milvus Lite file path or http(s)://host:port.")
    token: Optional[SecretStr] = Field(default=None, description="Milvus server token ('user:password').")
    collection: str = "vecbridge"
    es_url: Optional[str] = None
    es_api_key: Optional[SecretStr] = None
    es_username: Optional[str] = None
    es_password: Optional[SecretStr] = None
    es_ca_certs: Optional[str] = None
    es_verify_certs: bool = True
    # encoders
    dense_model: str = Field(default="all-MiniLM-L6-v2", description="Model folder, bundled alias or hub id; 'none'.")
    sparse_model: str = Field(default="bm25", description="'bm25', a SPLADE/BGE-M3 model, or 'none'.")
    encoder_backend: Literal["auto", "torch", "onnx"] = Field(
        default="auto", description="'auto': onnxruntime on CPU when the onnx extra is installed, else torch."
    )
    device: str = "auto"
    batch_size: int = Field(default=32, gt=0)
    max_length: Optional[int] = Field(default=None, gt=0, description="Passage tokens; None = the model's default.")
    query_max_length: Optional[int] = Field(default=None, gt=0, description="BGE-M3 query tokens; None = default.")
    text_search: bool = Field(
        default=False, description="Add the store's own BM25 ('text' retriever; Elasticsearch) to hybrid search."
    )
    reranker: Optional[str] = Field(
        default=None, description="Cross-encoder checkpoint, or a BGE-M3 score mode ('colbert', ...) to re-score."
    )
    rerank_top_n: Optional[int] = Field(default=None, gt=0, description="Re-score this many fused candidates.")
    onnx_threads: Optional[int] = Field(default=None, gt=0)
    onnx_quantize: Optional[Literal["int8"]] = Field(default=None, description="'int8': dynamic int8 ONNX graphs.")
    # ingestion
    ingest_batch_size: int = Field(default=256, gt=0)
    state_dir: str = Field(default=".vecbridge", description="Per-collection manifest and BM25 statistics.")
