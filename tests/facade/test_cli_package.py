"""The CLI package: every command module is registered, the entry points run, services are checked."""

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

import vecbridge.cli
from vecbridge.cli import COMMANDS, app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_every_module_with_register_is_a_command():
    modules = [importlib.import_module(f"vecbridge.cli.{m.name}") for m in pkgutil.iter_modules(vecbridge.cli.__path__)]
    with_register = {m.__name__ for m in modules if callable(getattr(m, "register", None))}
    assert with_register == {m.__name__ for m in COMMANDS}
    assert len(COMMANDS) == len(set(COMMANDS))


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    names = ["quickstart", "ingest", "search", "eval", "tune", "finetune", "data"]
    positions = [result.output.find(f" {name} ") for name in names]
    assert -1 not in positions, result.output


def test_python_dash_m_vecbridge_runs_the_cli():
    result = subprocess.run(
        [sys.executable, "-m", "vecbridge", "search", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert "-k" in result.stdout and "--k" in result.stdout


def test_a_context_object_other_than_eval_services_is_refused(tmp_path):
    dataset = tmp_path / "beir"
    dataset.mkdir()
    result = runner.invoke(app, ["tune", str(dataset)], obj=object())
    assert isinstance(result.exception, TypeError) and "EvalServices" in str(result.exception)
