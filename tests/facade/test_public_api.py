"""One public import: ``vecbridge`` re-exports everything a user needs, lazily."""

import ast
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import vecbridge
import vecbridge.schemas
import vecbridge.schemas.errors

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "pymilvus", "elasticsearch", "onnxruntime", "ray", "llama_index")


def run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_vecbridge_loads_no_model_or_store_library():
    out = run_python(
        "import sys, time; t = time.perf_counter(); import vecbridge; dt = time.perf_counter() - t\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules)); print(f'{{dt * 1000:.0f}} ms', file=sys.stderr)"
    )
    assert out == "[]"


def test_import_vecbridge_loads_none_of_its_own_layers_either():
    """Nothing is imported until a name is used: not even schemas (pydantic) or the index. The one
    module loaded is the ``vecbridge.ingest`` package's ``__init__`` (so that ``vecbridge.ingest`` stays
    the function), which itself imports nothing of ours nor pydantic."""
    out = run_python(
        "import sys, vecbridge; print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'schemas', 'encoders', 'connectors', 'pydantic', 'numpy'} or m.startswith('vecbridge.')))"
    )
    assert out == "['vecbridge.ingest']"


def test_using_a_name_imports_only_its_module():
    out = run_python(
        "import sys, vecbridge; vecbridge.Document; vecbridge.eq\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), 'vecbridge.index' in sys.modules)"
    )
    assert out == "[] False"


def test_every_name_in_all_resolves():
    missing = [name for name in vecbridge.__all__ if getattr(vecbridge, name, None) is None]
    assert missing == []
    assert len(vecbridge.__all__) == len(set(vecbridge.__all__))


def test_names_are_the_layers_own_objects():
    from vecbridge.async_index import AsyncHybridIndex
    from vecbridge.connectors.milvus import MilvusConnector
    from vecbridge.encoders.factory import load_encoder
    from vecbridge.index import HybridIndex
    from vecbridge.schemas import Document, SparseVector
    from vecbridge.schemas.filters import between

    assert vecbridge.HybridIndex is HybridIndex
    assert vecbridge.AsyncHybridIndex is AsyncHybridIndex
    assert vecbridge.MilvusConnector is MilvusConnector
    assert vecbridge.load_encoder is load_encoder
    assert vecbridge.Document is Document and vecbridge.SparseVector is SparseVector
    assert vecbridge.between is between


def test_star_import_gives_all():
    namespace: dict = {}
    exec("from vecbridge import *", namespace)
    assert set(vecbridge.__all__) <= set(namespace)


def test_the_user_facing_names_of_issue_12_are_exported():
    wanted = {
        "HybridIndex",
        "AsyncHybridIndex",
        "MilvusConnector",
        "AsyncMilvusConnector",
        "ElasticsearchConnector",
        "AsyncElasticsearchConnector",
        "load_encoder",
        "DenseEncoder",
        "SpladeEncoder",
        "BGEM3Encoder",
        "BM25Encoder",
        "CrossEncoderReranker",
        "Document",
        "SparseVector",
        "Hit",
        "SearchMode",
        "SearchRequest",
        "FusionParams",
        "CollectionSpec",
        "ScalarType",
        "Metric",
        "DenseIndex",
        "eq",
        "ne",
        "is_in",
        "not_in",
        "between",
        "parse_filter",
        "Filter",
        "Settings",
        "ingest",
        "read_jsonl",
        "IngestReport",
        "IngestError",
    }
    assert wanted - set(vecbridge.__all__) == set()


def test_every_error_class_of_schemas_errors_is_exported():
    errors = {
        name
        for name, value in vars(vecbridge.schemas.errors).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == "vecbridge.schemas.errors"
    }
    assert errors  # the module defines some
    assert errors - set(vecbridge.__all__) == set()
    assert all(getattr(vecbridge, name) is getattr(vecbridge.schemas.errors, name) for name in errors)


def test_unknown_name_raises_attribute_error_naming_the_module():
    with pytest.raises(AttributeError, match="module 'vecbridge' has no attribute 'NoSuchThing'"):
        vecbridge.NoSuchThing  # noqa: B018
    with pytest.raises(ImportError, match="NoSuchThing"):
        exec("from vecbridge import NoSuchThing", {})


def test_submodules_still_import_through_the_lazy_package():
    from vecbridge import fusion

    assert fusion.rrf is vecbridge.rrf


def test_dir_lists_the_public_names():
    assert set(vecbridge.__all__) <= set(dir(vecbridge))


def test_type_checking_imports_match_all():
    """The TYPE_CHECKING block (what type checkers see) names exactly ``__all__``."""
    tree = ast.parse((ROOT / "vecbridge" / "__init__.py").read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    names = {alias.asname or alias.name for node in block.body for alias in node.names}
    assert names == set(vecbridge._LAZY) | {"ingest"}
    assert set(vecbridge.__all__) - names <= set(vecbridge._PENDING)


@pytest.mark.parametrize(
    "first",
    [
        "",
        "import vecbridge.index",
        "import vecbridge.ingest",
        "import vecbridge.ingest.pipeline",
        "from vecbridge.ingest import IngestReport",
    ],
)
def test_ingest_is_the_function_whatever_was_imported_first(first):
    """``from vecbridge import ingest`` is the function and ``vecbridge.ingest`` a plain package (no
    callable-module class), whichever of the package's modules Python imported first."""
    out = run_python(
        f"import sys, types\n{first}\nfrom vecbridge import ingest\nimport vecbridge\n"
        "package = sys.modules['vecbridge.ingest']\n"
        "print(type(ingest).__name__, ingest is package.ingest is vecbridge.ingest,\n"
        "type(package) is types.ModuleType,\n"
        "      package.IngestReport.__name__, next(iter(__import__('inspect').signature(ingest).parameters)))"
    )
    assert out == "function True True IngestReport index"


def test_stored_document_resolves_or_says_it_is_missing():
    try:
        value = vecbridge.StoredDocument
    except AttributeError as error:
        assert "StoredDocument" in str(error) and "vecbridge.schemas" in str(error)
    else:
        assert issubclass(value, vecbridge.Document)


@pytest.mark.xfail(
    not hasattr(vecbridge.schemas, "StoredDocument"),
    reason="needs StoredDocument from branch store",
    raises=AttributeError,
    strict=True,
)
def test_stored_document_is_exported():
    assert issubclass(vecbridge.StoredDocument, vecbridge.Document)


def test_pending_names_are_exported_once_their_module_defines_them(monkeypatch):
    monkeypatch.setitem(vecbridge._PENDING, "validate_filter", "vecbridge.schemas")  # defined there, not in _LAZY
    monkeypatch.setitem(vecbridge._PENDING, "NotYetThere", "vecbridge.schemas")
    names = vecbridge._public_names()
    assert "validate_filter" in names and "NotYetThere" not in names
    assert vecbridge.validate_filter is vecbridge.schemas.validate_filter
    with pytest.raises(
        AttributeError, match="'NotYetThere': this version of 'vecbridge.schemas' does not define it yet"
    ):
        vecbridge.NotYetThere  # noqa: B018
    monkeypatch.delitem(vars(vecbridge), "validate_filter")  # undo the cache of the lookup above
