"""Every Python and shell example in README.md and docs/ runs, so the documentation cannot rot.

Each Markdown file is one test: its fenced ``python`` blocks run in order in one namespace, and its
``bash``/``sh``/``console`` blocks run with bash (``set -euo pipefail``) with the virtualenv's
``vecbridge`` first on ``PATH``, all in one fresh temporary directory (a tutorial's later blocks may use
what its earlier ones made). A block is skipped only when the line right above its fence says why:

- ``<!-- docs-test: server -->``: needs a running Milvus or Elasticsearch server;
- ``<!-- docs-test: skip REASON -->``: not runnable as it stands (install commands, hour-long
  benchmarks, a fragment of a class, a placeholder for the reader's own data).

``tests/test_docs_examples.py::test_every_block_is_run_or_marked`` fails on a marker without a reason.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON_LANGS = {"python", "py"}
SHELL_LANGS = {"bash", "sh", "shell", "console"}
MARKER = re.compile(r"^<!--\s*docs-test:\s*(?P<kind>server|skip)\b\s*(?P<reason>.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown file."""

    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marker: str  # "" (run), "server" or "skip"
    reason: str


def markdown_files() -> list[Path]:
    """README.md and every page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def code_blocks(path: Path) -> list[Block]:
    """The fenced blocks of ``path`` with their language and skip marker."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, indent = match["fence"], len(match["indent"])
        lang = (match["info"].split() or [""])[0].lower()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            line = lines[i]
            body.append(line[indent:] if line[:indent].strip() == "" else line.lstrip())
            i += 1
        above = lines[start - 1].strip() if start > 0 else ""
        marker = MARKER.match(above)
        blocks.append(
            Block(
                path=path,
                line=start + 1,
                lang=lang,
                code="\n".join(body) + "\n",
                marker=marker["kind"] if marker else "",
                reason=marker["reason"] if marker else "",
            )
        )
        i += 1
    return blocks


def runnable(block: Block) -> bool:
    return block.lang in PYTHON_LANGS | SHELL_LANGS


def _files_with_examples() -> list[Path]:
    return [p for p in markdown_files() if any(runnable(b) for b in code_blocks(p))]


def _run_shell(block: Block, workdir: Path) -> None:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"
    proc = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + block.code],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{block.path.relative_to(ROOT)}:{block.line}: shell example exited {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
        )


@pytest.mark.parametrize("path", _files_with_examples(), ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_examples_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file's examples run, in order, in a fresh directory; marked blocks are reported as skipped."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    namespace: dict[str, object] = {"__name__": "__docs_example__"}
    skipped = []
    ran = 0
    for block in code_blocks(path):
        if not runnable(block):
            continue
        if block.marker:
            skipped.append(f"line {block.line} ({block.marker}: {block.reason or 'needs a server'})")
            continue
        if block.lang in PYTHON_LANGS:
            code = compile(block.code, f"{path.relative_to(ROOT)}:{block.line}", "exec")
            exec(code, namespace)  # noqa: S102 - running the documentation's own examples is the point
        else:
            _run_shell(block, tmp_path)
        ran += 1
    if skipped and not ran:
        pytest.skip(f"every example is marked: {'; '.join(skipped)}")
    if skipped:
        print(f"{path.relative_to(ROOT)}: not run: {'; '.join(skipped)}")


def test_every_block_is_run_or_marked() -> None:
    """A skip marker always says why; a server marker stands above a Python or shell block."""
    problems = []
    for path in markdown_files():
        for block in code_blocks(path):
            where = f"{path.relative_to(ROOT)}:{block.line}"
            if block.marker == "skip" and not block.reason:
                problems.append(f"{where}: `docs-test: skip` without a reason")
            if block.marker and not runnable(block):
                problems.append(f"{where}: marker above a {block.lang or 'plain'} block, which never runs")
    assert not problems, "\n".join(problems)


def test_the_parser_finds_blocks_and_markers(tmp_path: Path) -> None:
    """The extractor sees languages, bodies, indentation and markers as written."""
    page = tmp_path / "page.md"
    page.write_text(
        "text\n```python\nx = 1\n```\n<!-- docs-test: server -->\n```bash\nvecbridge search q\n```\n"
        "- item\n\n  <!-- docs-test: skip an install command -->\n  ```sh\n  pip install x\n  ```\n"
        "```yaml\na: 1\n```\n",
        encoding="utf-8",
    )
    blocks = code_blocks(page)
    assert [(b.lang, b.marker, b.reason, b.code) for b in blocks] == [
        ("python", "", "", "x = 1\n"),
        ("bash", "server", "", "vecbridge search q\n"),
        ("sh", "skip", "an install command", "pip install x\n"),
        ("yaml", "", "", "a: 1\n"),
    ]
    assert [runnable(b) for b in blocks] == [True, True, True, False]
