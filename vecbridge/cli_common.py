"""What every ``vecbridge`` command shares: consoles that print text verbatim, and one way to fail.

Text from users and stores (queries, document text, ids, file lines) may contain ``[bold]`` or
``[/]``: the consoles have rich markup off, so it is printed as is; colour comes from ``style=``
or ``rich.text.Text``, never from markup in strings. Bad input ends a command with one
``error: ...`` line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from vecbridge.schemas import VecbridgeError
from vecbridge.schemas.errors import describe_validation_error, redact

MAX_MESSAGE_CHARS = 1000
"""Longest error message printed; a longer one is cut (a WriteError naming thousands of ids)."""

console = Console(markup=False, highlight=False, width=None if Console().is_terminal else 120)
err_console = Console(stderr=True, markup=False, highlight=False)


def typer_app(**kwargs) -> typer.Typer:
    """A ``typer.Typer`` whose crash reports never print local variables (they may hold secrets)."""
    return typer.Typer(pretty_exceptions_show_locals=False, **kwargs)


def error_text(exc: BaseException | str) -> str:
    """The one line shown for an error: URI credentials redacted, cut to ``MAX_MESSAGE_CHARS``."""
    if isinstance(exc, ValidationError):
        message = describe_validation_error(exc, "invalid input")
    else:
        message = str(exc)
    message = redact(message)
    if len(message) > MAX_MESSAGE_CHARS:
        message = f"{message[:MAX_MESSAGE_CHARS]}... ({len(message) - MAX_MESSAGE_CHARS} more characters)"
    return message


def fail(exc: BaseException | str, code: int = 2) -> NoReturn:
    """Print ``error: <message>`` on stderr and exit with ``code`` (2: bad input or settings)."""
    err_console.print(Text.assemble(("error: ", "bold red"), error_text(exc)), soft_wrap=True)
    raise typer.Exit(code=code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn vecbridge errors, validation errors and file errors raised inside into ``fail``."""
    try:
        yield
    except (VecbridgeError, ValidationError, OSError) as exc:
        fail(exc)
