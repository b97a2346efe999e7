"""What every ``vecbridge`` command shares: consoles that print text verbatim, one way to fail,
settings from the environment, and the hit table.

Text from users and stores (queries, document text, ids, file lines) may contain ``[bold]`` or
``[/]``: the consoles have rich markup off, so it is printed as is; colour comes from ``style=``
or ``rich.text.Text``, never from markup in strings. Bad input ends a command with one
``error: ...`` line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from vecbridge.schemas import Hit, Settings, VecbridgeError
from vecbridge.schemas.errors import describe_validation_error, redact

MAX_MESSAGE_CHARS = 1000
"""Longest error message printed; a longer one is cut (a WriteError naming thousands of ids)."""

console = Console(markup=False, highlight=False, width=None if Console().is_terminal else 120)
err_console = Console(stderr=True, markup=False, highlight=False)

EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
"""Exit codes: something was not written or the store failed; bad usage or settings; Ctrl-C."""


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


def settings(**overrides: Optional[str]) -> Settings:
    """``Settings`` from the environment (``VECBRIDGE_*``, ``.env``), with the options a user gave."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def print_hits(query: str, hits: Iterable[Hit], filter_: Optional[dict[str, Any]] = None) -> None:
    """A table of hits; query, ids and texts are printed verbatim (the console has markup off)."""
    title = Text.assemble((query, "bold"), f"  filter={json.dumps(filter_, ensure_ascii=False)}" if filter_ else "")
    table = Table(title=title, title_justify="left")
    for column in ("#", "id", "score", "dense rank", "sparse rank"):
        table.add_column(column, no_wrap=True, min_width=max(len(column), 6 if column == "id" else 1))
    table.add_column("text", no_wrap=True, overflow="ellipsis", max_width=58)
    for i, hit in enumerate(hits, 1):
        table.add_row(str(i), hit.id, f"{hit.score:.4f}", _rank(hit, "dense"), _rank(hit, "sparse"), hit.text)
    console.print(table)


def _rank(hit: Hit, name: str) -> str:
    """``off``: the retriever did not run for this query (language-aware fusion); ``-``: no rank."""
    return "off" if hit.retrievers and name not in hit.retrievers else str(hit.ranks.get(name, "-"))
