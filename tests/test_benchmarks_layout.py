"""benchmarks/: maintained comparisons write JSON results through the shared helper; probes live in experiments/."""

from __future__ import annotations

import ast
import py_compile
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
HELPERS = {"__init__.py", "timing.py", "fastembed_anchor.py"}  # shared helpers, not benchmarks
MAINTAINED = sorted(p for p in BENCH.glob("*.py") if p.name not in HELPERS)
EXPERIMENTS = sorted(p for p in (BENCH / "experiments").glob("*.py") if p.name != "__init__.py")


def _called_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
    }


@pytest.mark.parametrize("path", MAINTAINED + EXPERIMENTS, ids=lambda p: str(p.relative_to(BENCH)))
def test_every_benchmark_script_compiles(path: Path, tmp_path: Path) -> None:
    py_compile.compile(str(path), cfile=str(tmp_path / "out.pyc"), doraise=True)


@pytest.mark.parametrize("path", MAINTAINED, ids=lambda p: p.name)
def test_maintained_benchmarks_print_the_machine_and_write_results(path: Path) -> None:
    called = _called_names(path)
    assert "write_results" in called, f"{path.name} must write benchmarks/results/<name>.json via write_results"
    assert "machine_line" in called, f"{path.name} must print machine_line() beside its tables"


def test_experiments_readme_lists_every_probe() -> None:
    readme = (BENCH / "experiments" / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in EXPERIMENTS if f"`{p.name}`" not in readme]
    assert not missing, f"benchmarks/experiments/README.md does not describe {missing}"
    assert EXPERIMENTS, "no experiments found: wrong folder?"


def test_benchmarks_readme_lists_every_maintained_script() -> None:
    readme = (BENCH / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in MAINTAINED if f"`{p.name}`" not in readme]
    assert not missing, f"benchmarks/README.md does not list {missing}"
