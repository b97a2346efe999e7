"""The layering rule, one level down the import root ``vecbridge``: ``vecbridge.schemas`` imports nothing
of ours; ``vecbridge.encoders`` and ``vecbridge.connectors`` import ``vecbridge.schemas`` only (and
themselves); the facade (every other ``vecbridge.*`` module) may import any layer."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vecbridge"
LAYERS = ("schemas", "encoders", "connectors")
ALLOWED = {"schemas": {"schemas"}, "encoders": {"schemas", "encoders"}, "connectors": {"schemas", "connectors"}}


def imported_modules(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved against its package)."""
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            names.add(module)
    return names


def layer_of(module: str) -> str | None:
    """``schemas`` / ``encoders`` / ``connectors`` for ``vecbridge.<layer>...``, ``facade`` for any other
    ``vecbridge`` module, None for a module that is not ours."""
    parts = module.split(".")
    if parts[0] != "vecbridge":
        return None
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "facade"


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_imports_only_what_it_may(layer):
    offenders = {}
    for path in (PACKAGE / layer).rglob("*.py"):
        bad = sorted(m for m in imported_modules(path) if layer_of(m) not in (None, *ALLOWED[layer]))
        if bad:
            offenders[str(path.relative_to(ROOT))] = bad
    assert offenders == {}


def test_layer_of_sorts_modules():
    assert layer_of("vecbridge.schemas.filters") == "schemas"
    assert layer_of("vecbridge.index") == "facade" and layer_of("vecbridge") == "facade"
    assert layer_of("pydantic") is None and layer_of("schemas") is None


def test_the_old_top_level_packages_are_gone():
    assert [name for name in LAYERS if (ROOT / name).exists()] == []


def test_benchmarks_do_not_import_tests():
    offenders = [
        f"{path.relative_to(ROOT)}: {m}"
        for path in (ROOT / "benchmarks").rglob("*.py")
        for m in imported_modules(path)
        if m.split(".")[0] == "tests"
    ]
    assert offenders == []


def test_tests_do_not_import_benchmarks():
    """Test infrastructure lives in ``vecbridge.testing``; ``benchmarks/`` holds benchmarks only."""
    offenders = [
        f"{path.relative_to(ROOT)}: {m}"
        for path in (ROOT / "tests").rglob("*.py")
        for m in imported_modules(path)
        if m.split(".")[0] == "benchmarks"
    ]
    assert offenders == []


def test_only_tests_import_the_testing_kit():
    """``vecbridge.testing`` (pytest mixins and fixtures) is imported by no other vecbridge module."""
    offenders = [
        f"{path.relative_to(ROOT)}: {m}"
        for path in PACKAGE.rglob("*.py")
        if (PACKAGE / "testing") not in path.parents
        for m in imported_modules(path)
        if m == "vecbridge.testing" or m.startswith("vecbridge.testing.")
    ]
    assert offenders == []


def test_the_package_and_its_testing_kit_import_without_pytest():
    """``import vecbridge`` and the kit's pytest-free names load no pytest (it is an optional extra)."""
    import subprocess
    import sys

    code = (
        "import sys, vecbridge, vecbridge.testing\n"
        "from vecbridge.testing import Backend, MilvusLiteServer, EmulatorProcess, BagOfWordsEncoder\n"
        "import vecbridge.testing.data, vecbridge.testing.checkpoints\n"
        "assert 'pytest' not in sys.modules, 'pytest was imported'\n"
        "from vecbridge.testing import ConnectorConformance\n"
        "assert 'pytest' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
