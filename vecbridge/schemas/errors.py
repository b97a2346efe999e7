"""One small error tree shared by every layer (encoders and connectors raise these), and the helpers
that keep their messages short and free of secrets."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Optional


class VecbridgeError(Exception):
    """Base class of every error vecbridge raises on purpose."""


class ConfigurationError(VecbridgeError):
    """A setting or argument has a value that cannot work."""


class InvalidInputError(ConfigurationError, ValueError):
    """An argument of a public call does not validate (the pydantic ``ValidationError`` of a model
    built from user input, turned into one line naming the field and the value)."""


class ModelNotFoundError(VecbridgeError):
    """A model folder is missing and the hub cannot be reached (or has no such model)."""


class FilterError(VecbridgeError):
    """A filter names an undeclared key, an unknown operator or a value of the wrong type."""


class ConnectorError(VecbridgeError):
    """A vector store call failed; the driver's exception is chained as ``__cause__``."""


class CollectionMismatchError(ConnectorError):
    """An existing collection/index does not match the requested ``CollectionSpec``."""


class CollectionNotFoundError(ConnectorError):
    """The collection/index does not exist."""


class UnsupportedOperationError(ConnectorError):
    """The backend (or its licence/version) cannot do this operation."""


class WriteError(ConnectorError):
    """Some documents of a write were not written.

    ``failed`` maps *exactly* the ids not written to a reason (rejected rows, rows of a failed
    chunk, rows never tried); ``written`` counts the rows the store acknowledged in the same call.
    """

    def __init__(self, message: str, failed: dict[str, str], written: int = 0):
        super().__init__(message)
        self.failed = failed
        self.written = written


class StoreUnavailableError(ConnectorError):
    """The store could not be reached (or kept failing) within the retry budget.

    Nothing of the call is known to be acknowledged beyond ``written`` rows; callers stop and
    keep their checkpoint so a later run can resume.
    """

    def __init__(self, message: str, written: int = 0):
        super().__init__(message)
        self.written = written


# ---- short, secret-free messages -------------------------------------------------------------
MAX_VALUE_CHARS = 80
"""Longest value repr quoted in an error message; longer ones are cut (with their full length)."""

_URI_SCHEME = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://")
_AUTHORITY_END = "/?#\n"  # what ends a URI's authority (urllib.parse.urlsplit's rule, and a line end)
_SECRET_NAME = re.compile(r"(?i)pass(word)?|api_?key|token|secret|credential")


def redact(text: str) -> str:
    """``text`` with the credentials of every URI (``scheme://user:pass@host``) replaced by ``***``.

    As ``urllib.parse.urlsplit`` reads a URI, the userinfo runs up to the *last* ``@`` of the
    authority (which ends at ``/``, ``?``, ``#`` or the line's end; for a URI inside quotes, also at
    the closing quote), so a password holding ``@``, ``:``, spaces or quotes is cut whole. Text
    after a URI without a path may be cut too when it holds an ``@``: that errs on the safe side.
    """
    out: list[str] = []
    done = 0
    for match in _URI_SCHEME.finditer(text):
        if match.start() < done:  # inside userinfo already cut
            continue
        start = match.end()
        end = _authority_end(text, start, text[match.start() - 1] if match.start() else "")
        at = text.rfind("@", start, end)
        if at >= 0:
            out += [text[done:start], "***"]
            done = at
    return "".join(out) + text[done:]


def _authority_end(text: str, start: int, before: str) -> int:
    """Where the authority starting at ``start`` ends; ``before``: the character before the scheme."""
    end = next((i for i in range(start, len(text)) if text[i] in _AUTHORITY_END), len(text))
    if before in ("'", '"'):  # a quoted URI (a repr): it ends at its closing, unescaped quote
        i = start
        while i < end:
            if text[i] == "\\":
                i += 2
                continue
            if text[i] == before:
                return i
            i += 1
    return end


def is_secret_name(name: str) -> bool:
    """Whether a field / variable name holds a secret (password, api key, token, ...)."""
    return bool(_SECRET_NAME.search(name))


def short_repr(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """``repr(value)`` with URI credentials redacted, cut to ``limit`` characters."""
    text = redact(repr(value))
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def invalid_input(exc: Any, what: str) -> InvalidInputError:
    """``InvalidInputError`` for a pydantic ``ValidationError`` raised while building ``what``
    from user input (raise it ``from None``: the message names field and value)."""
    return InvalidInputError(describe_validation_error(exc, what))


def describe_validation_error(
    exc: Any, what: str, field_name: Optional[Callable[[str], str]] = None, max_errors: int = 3
) -> str:
    """One line for a pydantic ``ValidationError``: ``what``, then ``field=value: reason`` per error.

    Values of secret fields, unknown (``extra``) fields and whole objects are never quoted, so a
    password next to a bad value stays out of the message; URI credentials are redacted.
    """
    parts = []
    errors = exc.errors(include_url=False)
    for err in errors[:max_errors]:
        loc = ".".join(str(p) for p in err["loc"])
        name = field_name(loc) if field_name and loc else (loc or "value")
        value = err.get("input")
        if err["type"] == "missing":
            parts.append(f"{name}: missing")
            continue
        hidden = (
            is_secret_name(loc)
            or err["type"] == "extra_forbidden"
            or isinstance(value, (dict, list, tuple, set))
            or hasattr(value, "model_fields")
        )
        reason = redact(str(err["msg"]))
        reason = reason if len(reason) <= 2 * MAX_VALUE_CHARS else reason[: 2 * MAX_VALUE_CHARS] + "..."
        if not loc:  # a model-level check: its own message says what is wrong
            parts.append(reason.removeprefix("Value error, "))
        else:
            parts.append(f"{name}: {reason}" if hidden else f"{name}={short_repr(value)}: {reason}")
    more = f" (and {len(errors) - max_errors} more)" if len(errors) > max_errors else ""
    return f"{what}: " + "; ".join(parts) + more
