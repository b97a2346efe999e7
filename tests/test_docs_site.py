"""The generated reference pages cover the code they are generated from, and the site's nav resolves."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "scripts" / "docs_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configuration_page_lists_every_setting_with_its_variable_and_default():
    from vecbridge.schemas.settings import Settings

    page = _hooks().settings_markdown()
    rows = {m[1]: m[0] for m in re.finditer(r"^\| `(VECBRIDGE_[A-Z0-9_]+)` \|.*$", page, re.M)}
    assert set(rows) == {f"VECBRIDGE_{name.upper()}" for name in Settings.model_fields}
    assert "`'./vecbridge.db'`" in rows["VECBRIDGE_URI"] and "Milvus Lite file path" in rows["VECBRIDGE_URI"]
    assert all(row.count(" | ") >= 3 for row in rows.values())


def test_every_setting_has_a_description():
    """The configuration page is only as good as the descriptions in ``Settings``."""
    from vecbridge.schemas.settings import Settings

    assert [name for name, field in Settings.model_fields.items() if not field.description] == []


def test_cli_page_lists_every_command_and_option():
    import typer

    from vecbridge.cli import app

    page = _hooks().cli_markdown()
    root = typer.main.get_command(app)
    ctx = root.context_class(root, info_name="vecbridge")
    for name in root.list_commands(ctx):
        command = root.get_command(ctx, name)
        assert f"## `vecbridge {name}`" in page
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                assert f"`{param.opts[0]}`" in page, (name, param.opts)
    assert "## `vecbridge data validate`" in page and "`--filter`" in page


def test_nav_pages_exist_or_are_generated():
    """Every page in mkdocs.yml's nav is a file under docs/, a generated page or a pending guide."""
    yaml = pytest.importorskip("yaml")
    hooks = _hooks()

    def pages(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for value in node.values():
                yield from pages(value)
        elif isinstance(node, list):
            for item in node:
                yield from pages(item)

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    known = set(hooks.GENERATED_PAGES)
    missing = [p for p in pages(config["nav"]) if p not in known and not (ROOT / "docs" / p).is_file()]
    assert missing == []
