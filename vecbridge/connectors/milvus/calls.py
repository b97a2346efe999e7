"""What a Milvus connector needs around each driver call: transient-error detection, retries,
short one-line error text, credential-free URIs, and what the server supports (probed once).

Pure helpers over pymilvus / grpc exceptions; no connector state.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Optional

from tenacity import (
    AsyncRetrying,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

from vecbridge.schemas.errors import redact

logger = logging.getLogger(__name__)

# pymilvus retries failed RPCs itself (75 times, up to ~3 min) unless told not to; ours are bounded.
NO_DRIVER_RETRY: dict[str, Any] = {"retry_times": 0}
_TRANSIENT_GRPC = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"}
_TRANSIENT_TEXT = re.compile(
    r"unavailable|connection refused|failed to connect|fail connecting|deadline exceeded|timed out"
    r"|retry timeout|connection reset|socket closed|rate limit",
    re.IGNORECASE,
)
_RATE_LIMIT = 8  # pymilvus ErrorCode.RATE_LIMIT
_DRIVER_LOGGERS = (
    "pymilvus.decorators",
    "pymilvus.milvus_client.milvus_client",
    "pymilvus.milvus_client._utils",
    "pymilvus.orm.iterator",
)  # the last: "failed to get mvccTs" on Milvus Lite, every iterator
_quiet = threading.local()


class _QuietInsideCalls(logging.Filter):
    """Drops pymilvus' own ERROR records (multi-line gRPC reprs, one per failed try) raised inside
    a connector call: the connector retries, logs one line per retry and raises one clear error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_quiet, "depth", 0)


_FILTER = _QuietInsideCalls()
for _name in _DRIVER_LOGGERS:
    logging.getLogger(_name).addFilter(_FILTER)


@contextmanager
def quiet_driver_logs() -> Iterator[None]:
    """Inside this block (this thread only) pymilvus' error log records are dropped."""
    _quiet.depth = getattr(_quiet, "depth", 0) + 1
    try:
        yield
    finally:
        _quiet.depth -= 1


def _grpc_code_name(exc: BaseException) -> Optional[str]:
    code = getattr(exc, "code", None)
    if callable(code):  # grpc.RpcError.code(); pymilvus sometimes stores this bound method as .code
        try:
            return getattr(code(), "name", None)
        except Exception:  # pragma: no cover - defensive: an unusual exception object
            return None
    return None


def is_transient(exc: BaseException) -> bool:
    """True for errors worth retrying: the server unreachable, overloaded or too slow."""
    seen: set[int] = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ConnectionError, TimeoutError)):
            return True
        if _grpc_code_name(current) in _TRANSIENT_GRPC or getattr(current, "code", None) == _RATE_LIMIT:
            return True
        current = current.__cause__ or current.__context__
    return bool(_TRANSIENT_TEXT.search(short_error(exc)))


def short_error(exc: BaseException, limit: int = 300) -> str:
    """One line of what went wrong (the driver's message, not its repr or traceback)."""
    details = getattr(exc, "details", None)
    text = details() if callable(details) else getattr(exc, "message", None)
    if not isinstance(text, str) or not text:
        text = str(exc) or type(exc).__name__
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def safe_uri(uri: str) -> str:
    """``uri`` with any ``user:password@`` replaced by ``***@`` (``vecbridge.schemas.errors.redact``)."""
    return redact(uri)


def _retry_policy(attempts: int, max_wait: float, what: str) -> dict[str, Any]:
    return dict(
        stop=stop_after_attempt(attempts) | stop_after_delay(max_wait),
        wait=wait_exponential(multiplier=0.25, max=8.0) + wait_random(0, 0.25),
        retry=retry_if_exception(is_transient),
        reraise=True,
        before_sleep=lambda state: logger.warning(
            "%s: attempt %d failed (%s), retrying",
            what,
            state.attempt_number,
            short_error(state.outcome.exception()) if state.outcome else "?",
        ),
    )


def retrying(attempts: int, max_wait: float, what: str) -> Retrying:
    """Exponential backoff plus up to 0.25 s jitter (0.25 s doubling, capped at 8 s), at most
    ``attempts`` tries and ``max_wait`` seconds in all, on transient errors only."""
    return Retrying(**_retry_policy(attempts, max_wait, what))


def async_retrying(attempts: int, max_wait: float, what: str) -> AsyncRetrying:
    """``retrying``'s policy for coroutines (waits with ``asyncio.sleep``)."""
    return AsyncRetrying(**_retry_policy(attempts, max_wait, what))


@dataclass(frozen=True)
class Capabilities:
    """What the Milvus engine behind a URI supports, learned from the server (``probe``)."""

    engine: str
    lite: bool  # Milvus Lite's engine (file or server mode): FLAT/IVF/AUTOINDEX only, no nullable, no ' in ids


def probe(client: Any) -> Capabilities:
    """Ask the server what it is. Milvus Lite (file or ``milvus_lite.server``) does not implement
    ``GetVersion`` (gRPC UNIMPLEMENTED); a Milvus server reports its version."""
    try:
        version = str(client.get_server_version(**NO_DRIVER_RETRY))
    except Exception as exc:
        if _grpc_code_name(exc) == "UNIMPLEMENTED" or "unimplemented" in short_error(exc).lower():
            return Capabilities(engine="milvus-lite", lite=True)
        raise
    return Capabilities(engine=f"milvus {version}", lite=False)
