"""``vecbridge.ingest``: a plain package whose names resolve lazily, and whose ``__init__`` imports nothing."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from vecbridge.ingest.report import IngestReport

PACKAGE = sys.modules["vecbridge.ingest"]  # the attribute vecbridge.ingest is the function
INIT = Path(PACKAGE.__file__)


def test_all_type_checking_and_lazy_names_agree():
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    seen = {alias.name: f"{node.module}" for node in block.body for alias in node.names}
    assert seen == PACKAGE._LAZY
    assert set(PACKAGE.__all__) == set(PACKAGE._LAZY) | {"ingest"}


@pytest.mark.parametrize("name", sorted(PACKAGE._LAZY))
def test_each_name_is_its_modules_own_object(name):
    module = sys.modules.get(PACKAGE._LAZY[name]) or __import__(PACKAGE._LAZY[name], fromlist=["x"])
    assert getattr(PACKAGE, name) is getattr(module, name)


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="module 'vecbridge.ingest' has no attribute 'nope'"):
        PACKAGE.nope  # noqa: B018


def test_the_package_init_imports_nothing_of_ours():
    code = (
        "import sys, vecbridge.ingest; print(sorted(m for m in sys.modules if m.startswith(('vecbridge', 'pydantic'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    ).stdout.strip()
    assert out == "['vecbridge', 'vecbridge.ingest']"
    assert IngestReport is PACKAGE.IngestReport
