"""No import cycle anywhere under ``vecbridge/``.

The graph is read from the source with ``ast``; nothing is imported. Its rules:

- A node is a module: ``vecbridge/a/b.py`` is ``vecbridge.a.b``, ``vecbridge/a/__init__.py`` is ``vecbridge.a``.
- Every ``import`` and ``from ... import`` counts, at module level or inside a function or method
  (a deferred import still runs, only later), relative ones resolved against the importing module.
  Imports under ``if TYPE_CHECKING:`` do not count: they never run.
- ``import a.b`` is an edge to ``a.b``. ``from a import b`` is an edge to ``a.b`` when that is a module
  of the tree, else to ``a`` (a name defined in ``a``).
- An import of one of the importer's own parent packages is not an edge: Python imports every parent
  package before the module itself, so a package ``__init__`` that re-exports from its submodules is
  not a cycle with them. (A submodule that needs a name from its parent's ``__init__`` should import
  it from the module defining it, which is an edge.)
- Only edges between modules of the tree are kept.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Import nodes that can run: everything except the bodies of ``if TYPE_CHECKING:``."""
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def imported_modules(path: Path, name: str, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that the file at ``path`` (module ``name``) imports, by the rules above."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*anchor, *([base] if base else [])])
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            targets.add(submodule if submodule in modules else base)
    ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    return {t for t in targets if t in modules and t != name and t not in ancestors}


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    files = {module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}
    return {name: imported_modules(path, name, set(files)) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or ``[]``."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(reversed(error.args[1]))
    return []


def test_vecbridge_has_no_import_cycle():
    graph = import_graph(ROOT, "vecbridge")
    assert len(graph) > 100 and "vecbridge.cli.search" in graph["vecbridge.cli"]
    cycle = find_cycle(graph)
    assert cycle == [], "import cycle: " + " -> ".join(cycle)


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    "a_imports",
    [
        "from pkg.sub import b",  # from a package import a module
        "from .sub.b import x",  # relative, a name of the module
        "import pkg.sub.b",
        "def late():\n    from pkg.sub import b",  # deferred imports run too
    ],
)
def test_a_cycle_is_found_whatever_the_import_form(tmp_path, a_imports):
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "",
            "pkg/a.py": a_imports + "\n",
            "pkg/sub/b.py": "from ..a import y\n",
        },
    )
    cycle = find_cycle(import_graph(tmp_path, "pkg"))
    assert set(cycle) == {"pkg.a", "pkg.sub.b"} and cycle[0] == cycle[-1]


def test_parents_reexporting_and_type_checking_imports_are_not_cycles(tmp_path):
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import f\n",  # the package re-exports its submodule
            "pkg/a.py": "import pkg\nfrom pkg import b\ndef f(): ...\n",  # a parent (implicit), a sibling module
            "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import f\n",
        },
    )
    graph = import_graph(tmp_path, "pkg")
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": set()}
    assert find_cycle(graph) == []
