"""Settings of the Elasticsearch connector (one validated model; secrets are ``SecretStr``)."""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from vecbridge.schemas import ConfigurationError, Settings
from vecbridge.schemas.arguments import Count, FiniteFloat
from vecbridge.schemas.errors import InvalidInputError, describe_validation_error, redact


class RefreshPolicy(str, Enum):
    """When writes (upsert, delete) become searchable.

    ``AFTER_WRITE`` (default): bulk requests do not refresh; one explicit ``indices.refresh``
    after each upsert/delete call makes everything visible on every shard to the next search
    (the protocol's read-your-writes contract) at one refresh per call.
    ``WAIT_FOR``: every bulk request waits for the periodic refresh (``refresh=wait_for``; up to
    ``index.refresh_interval``, 1 s, per chunk). ``NONE``: return at once; documents appear after
    the next periodic refresh. Breaks read-your-writes; for bulk loads followed by a manual refresh.
    """

    AFTER_WRITE = "after_write"
    WAIT_FOR = "wait_for"
    NONE = "none"


class NativeHybrid(str, Enum):
    """When ``search_hybrid_native`` may use the server-side ``rrf`` retriever.

    ``AUTO``: only if the licence API says the licence allows it (enterprise / trial / platinum and
    active); an unreadable licence counts as unknown -> ``UnsupportedOperationError``.
    ``FORCE``: skip the licence check (for emulators and tests); a 403 is still unsupported.
    ``NEVER``: always ``UnsupportedOperationError`` (the facade fuses client-side).
    """

    AUTO = "auto"
    FORCE = "force"
    NEVER = "never"


class IpSimilarity(str, Enum):
    """ES similarity used for ``Metric.IP``.

    ``DOT_PRODUCT`` needs unit-length vectors (real ES rejects others per document; the connector
    checks this client-side so an emulator behaves the same). ``MAX_INNER_PRODUCT`` accepts any
    vectors.
    """

    DOT_PRODUCT = "dot_product"
    MAX_INNER_PRODUCT = "max_inner_product"


class ElasticsearchConfig(BaseModel):
    """Everything the connector needs; build from ``Settings`` with ``from_settings``.

    ``text_analyzer``: analyzer of the BM25 ``text`` field. ``standard`` splits CJK text into single
    characters; ``cjk`` (built in, overlapping bigrams) is the CJK-capable choice that needs no
    plugin; ``smartcn`` (plugin ``analysis-smartcn``) does Chinese word segmentation.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(default="http://127.0.0.1:9200", description="Cluster URL (http:// or https://).")
    api_key: Optional[SecretStr] = Field(default=None, description="Encoded API key (id:key base64).")
    username: Optional[str] = None
    password: Optional[SecretStr] = None
    ca_certs: Optional[str] = Field(default=None, description="Path of a CA bundle for TLS.")
    verify_certs: bool = True
    request_timeout: FiniteFloat = Field(default=30.0, gt=0)
    refresh: RefreshPolicy = RefreshPolicy.AFTER_WRITE
    chunk_size: Count = Field(default=500, gt=0, le=10000, description="Documents per bulk request.")
    max_attempts: Count = Field(default=5, ge=1, le=20, description="Bulk attempts (first try included).")
    initial_backoff: FiniteFloat = Field(default=0.5, ge=0, description="Seconds before the first retry; doubles.")
    max_backoff: FiniteFloat = Field(default=30.0, ge=0)
    retry_max_wait: Optional[FiniteFloat] = Field(
        default=None, ge=0, description="Seconds one write keeps retrying in all; None: max_attempts alone bounds it."
    )
    text_analyzer: str = Field(default="standard", min_length=1)
    ip_similarity: IpSimilarity = IpSimilarity.DOT_PRODUCT
    native_hybrid: NativeHybrid = NativeHybrid.AUTO
    num_candidates_factor: Count = Field(default=10, ge=1, description="knn num_candidates = max(k * factor, 100).")
    hnsw_m: Count = Field(default=16, ge=2, le=512)
    hnsw_ef_construction: Count = Field(default=100, ge=2, le=3200)

    def __init__(self, **values: Any) -> None:
        """Bad values raise ``ConfigurationError`` naming the field; secrets (password, api key, URI
        credentials) never appear in it, nor in ``repr``."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise InvalidInputError(describe_validation_error(exc, "invalid Elasticsearch config")) from None

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, redact(value) if isinstance(value, str) else value

    @property
    def display_url(self) -> str:
        """``url`` with any ``user:password@`` replaced by ``***@``: the form used in messages."""
        return redact(self.url)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {redact(repr(value))}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _auth(self) -> ElasticsearchConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("basic auth needs both username and password")
        if self.api_key is not None and self.username is not None:
            raise ValueError("give either api_key or username/password, not both")
        return self

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ElasticsearchConfig:
        """Config from ``VECBRIDGE_ES_*`` settings; ``overrides`` win."""
        if not settings.es_url and "url" not in overrides:
            raise ConfigurationError("es_url is not set (VECBRIDGE_ES_URL)")
        values: dict[str, Any] = {
            "url": settings.es_url,
            "api_key": settings.es_api_key,
            "username": settings.es_username,
            "password": settings.es_password,
            "ca_certs": settings.es_ca_certs,
            "verify_certs": settings.es_verify_certs,
            "max_attempts": settings.retry_attempts,
            "retry_max_wait": settings.retry_max_wait,
        }
        values.update(overrides)
        return cls(**{k: v for k, v in values.items() if v is not None})

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``elasticsearch.Elasticsearch`` (secrets revealed here only)."""
        quiet_transport_logs()
        # the client's own retries (default 3) follow the retry setting: max_attempts tries in all
        kwargs: dict[str, Any] = {
            "hosts": [self.url],
            "request_timeout": self.request_timeout,
            "max_retries": self.max_attempts - 1,
        }
        if self.api_key is not None:
            kwargs["api_key"] = self.api_key.get_secret_value()
        if self.username is not None and self.password is not None:
            kwargs["basic_auth"] = (self.username, self.password.get_secret_value())
        if self.url.startswith("https://"):
            kwargs["verify_certs"] = self.verify_certs
            if self.ca_certs:
                kwargs["ca_certs"] = self.ca_certs
        return kwargs


TRANSPORT_LOGGERS = ("elastic_transport.transport", "elastic_transport.node_pool")


class _QuietTransport(logging.Filter):
    """The transport's per-try records ("Retrying request after failure", "Node ... has failed"),
    each with a full traceback, are kept only when vecbridge logs at DEBUG, and then on one line:
    the connector raises one clear error (``StoreUnavailableError``) once its tries are spent."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        record.exc_info, record.exc_text = None, None
        return logging.getLogger("vecbridge").isEnabledFor(logging.DEBUG)


_QUIET = _QuietTransport()


def quiet_transport_logs() -> None:
    """Install the filter on the transport's loggers (once; called when a client is made)."""
    for name in TRANSPORT_LOGGERS:
        logger = logging.getLogger(name)
        if _QUIET not in logger.filters:
            logger.addFilter(_QUIET)
