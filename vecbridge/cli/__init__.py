"""The ``vecbridge`` command line (typer): one module per command, shared helpers beside them.

- ``common``: consoles, ``fail``/``user_errors`` (one ``error: ...`` line, exit 2), settings, the hit table.
- ``eval_setup``: what ``eval``, ``tune`` and ``data from-beir`` share (encoder configurations, the
  store they evaluate on, and ``EvalServices``: how they load encoders and open stores; an
  application or a test passes its own as the typer context object,
  ``app(obj=EvalServices(...))`` or ``CliRunner().invoke(app, args, obj=EvalServices(...))``).
- one module per command (``quickstart``, ``ingest`` (+ ``ingest_ray``), ``sync``, ``search``, ``reindex``, ``evaluate``
  (``eval``), ``tune``, ``data``, ``finetune``), each with a ``register(app)`` function that adds its
  command(s).

Adding a command is a one-module job: write ``vecbridge/cli/<name>.py`` with the command function and
``register(app)`` (``app.command()(my_command)``), importing from this package only the helpers
(``vecbridge.cli.common``, ...), never this ``__init__``; then name the module in ``COMMANDS`` below
(its place there is its place in ``--help``). ``tests/facade/test_cli_package.py`` fails if a module
with ``register`` is missing from ``COMMANDS``; ``tests/test_import_cycles.py`` on any import cycle.
"""

from __future__ import annotations

import logging
import os

from vecbridge.cli import data, evaluate, finetune, ingest, quickstart, reindex, search, sync, tune
from vecbridge.cli.common import typer_app

COMMANDS = (quickstart, ingest, sync, search, reindex, evaluate, tune, data, finetune)
"""The command modules, in the order ``vecbridge --help`` lists them."""

app = typer_app(help="vecbridge: hybrid (dense + sparse) retrieval over Milvus or Elasticsearch.", no_args_is_help=True)
for _command in COMMANDS:
    _command.register(app)


def main() -> None:  # pragma: no cover - console entry point
    """The ``vecbridge`` console script (``python -m vecbridge`` runs the same)."""
    logging.basicConfig(level=os.environ.get("VECBRIDGE_LOG_LEVEL", "WARNING"))
    app()
