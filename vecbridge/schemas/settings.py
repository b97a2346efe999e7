"""Settings from the environment (prefix ``VECBRIDGE_``) or a ``.env`` file."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from vecbridge.schemas.arguments import INTEGER_RULE
from vecbridge.schemas.errors import ConfigurationError, InvalidInputError, describe_validation_error, redact

ENV_PREFIX = "VECBRIDGE_"


class Settings(BaseSettings):
    """Every knob a deployment sets. Secrets are ``SecretStr``: printed as ``**********``.

    A bad value (environment, ``.env`` or keyword) raises ``ConfigurationError`` naming the variable
    and the value, e.g. ``VECBRIDGE_BATCH_SIZE='abc'`` (secret values are never quoted).
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    @field_validator(
        "retry_attempts",
        "batch_size",
        "max_length",
        "query_max_length",
        "rerank_top_n",
        "onnx_threads",
        "ingest_batch_size",
        "fusion_agreement_top_n",
        mode="before",
    )
    @classmethod
    def _no_bool_counts(cls, value: Any) -> Any:
        """``True`` would read as 1: refused with the rule of every other count argument (environment
        strings such as ``"8"`` still parse)."""
        if isinstance(value, bool):
            raise ValueError(INTEGER_RULE)
        return value

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise InvalidInputError(
                describe_validation_error(exc, "invalid setting", lambda loc: f"{ENV_PREFIX}{loc.upper()}")
            ) from None
        except SettingsError as exc:
            raise ConfigurationError(f"invalid setting: {redact(str(exc))}") from None

    def __repr_args__(self) -> Any:
        """Field values for ``repr``, credentials inside URIs redacted (``SecretStr`` hides itself)."""
        for name, value in super().__repr_args__():
            yield name, redact(value) if isinstance(value, str) else value

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
    retry_attempts: Optional[int] = Field(
        default=None,
        ge=1,
        le=20,
        description="Tries per store call on transient errors (unreachable, unavailable, timeouts); "
        "None = the connector's default (Milvus 8, Elasticsearch 5).",
    )
    retry_max_wait: Optional[float] = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="Seconds one store call keeps retrying in all before StoreUnavailableError; "
        "None = the connector's default (Milvus 30 s; Elasticsearch: the attempts alone, ~8 s).",
    )
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
        default=False, description="Add the store's own BM25 ('text' retriever) to hybrid search."
    )
    text_analyzer: Literal["english", "chinese", "standard"] = Field(
        default="standard",
        description="Milvus full-text analyzer of the 'text' field when text_search is on (Elasticsearch: "
        "its own text analyzer setting).",
    )
    reranker: Optional[str] = Field(
        default=None, description="Cross-encoder checkpoint, or a BGE-M3 score mode ('colbert', ...) to re-score."
    )
    rerank_top_n: Optional[int] = Field(default=None, gt=0, description="Re-score this many fused candidates.")
    onnx_threads: Optional[int] = Field(
        default=None,
        gt=0,
        description="CPU threads per ONNX encoder (default: the CPUs this process may use): a one-text call runs on "
        "that many intra-op threads; int8 batches, which run one text at a time, run that many texts at once on "
        "single-threaded sessions (faster on CPU; one more copy of the graph per thread).",
    )
    onnx_quantize: Optional[Literal["auto", "int8", "none"]] = Field(
        default="auto",
        description="ONNX graphs on the onnx backend. 'auto' (default): dynamic int8 for sentence-transformers "
        "and SPLADE models (SciFact nDCG@10 within 0.2 pt of fp32, the fastest CPU path), fp32 for BGE-M3 (its "
        "outputs equal FlagEmbedding's). 'int8': int8 for every model. 'none' (or null): fp32, within 1e-4 of "
        "torch. int8 dense/SPLADE encoders run each text alone, so a text's vector never depends on the texts "
        "encoded with it (docs/benchmarks.md section 5d).",
    )
    # fusion
    fusion_agreement_top_n: int = Field(
        default=10,
        gt=0,
        le=16384,
        description="Agreement guard: each retriever's first N hits are compared with the other retrievers' "
        "(vecbridge/fusion.py).",
    )
    fusion_disagreement_factor: float = Field(
        default=0.5,
        ge=0,
        allow_inf_nan=False,
        description="Agreement guard: weight multiplier of a retriever whose first hits share nothing with any "
        "other retriever's, per query (1: off). See docs/language_coverage.md.",
    )
    # ingestion
    ingest_batch_size: int = Field(default=256, gt=0)
    state_dir: str = Field(
        default=".vecbridge",
        description="Where older versions kept per-collection state; read once to migrate it into the store.",
    )
